// Load generator of broadcast.mjs in C (`--load c`: compiled there with the machine's cc), for
// servers that broadcast faster than broadcast-load.mjs can count on one CPU. Same flags, same
// behaviour, same output as broadcast-load.mjs: opens --receivers then --senders connections to
// 127.0.0.1:--port, senders write --batch text messages of --size bytes at a time while fewer than
// --window - --batch messages are undelivered somewhere; every connection scans frame headers and
// counts messages; `start` and `stop` lines around the measured window, then one JSON line
//   {"deliveries", "seconds", "rate", "sent", "fanout", "perReceiver": {min, max}, "lost", "errors"}
// One thread, epoll, blocking writes (the window keeps them small), non-blocking reads.
// Exits 2 on a failed handshake, a closed connection, or after the run plus 60 s.
#include <sys/epoll.h>

#include "lib/raw-ws.h"

typedef struct {
  FrameScanner frames;
  double count;  // messages received
} Conn;

static Conn *conns;
static int nconns;

int main(int argc, char **argv) {
  programName = "broadcast-load.c";
  int port = atoi(option(argc, argv, "--port", "0"));
  int R = atoi(option(argc, argv, "--receivers", "1000"));
  int S = atoi(option(argc, argv, "--senders", "1"));
  int size = atoi(option(argc, argv, "--size", "16"));
  long window = atol(option(argc, argv, "--window", "64"));
  long batch = atol(option(argc, argv, "--batch", "16"));
  double warmup = atof(option(argc, argv, "--warmup", "2"));
  double duration = atof(option(argc, argv, "--duration", "5"));
  if (port <= 0 || R <= 0 || S <= 0 || size <= 0 || size > 125 || batch <= 0 || batch > window) {
    errno = 0;
    fail("bad arguments");
  }
  double deadline = now() + warmup + duration + 60;

  nconns = R + S;
  conns = calloc((size_t)nconns, sizeof(Conn));
  int ep = epoll_create1(0);
  for (int k = 0; k < nconns; k++) {
    conns[k].frames.fd = openConnection(port);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].frames.fd, &ev) < 0) fail("epoll_ctl");
  }

  // One masked text frame (mask 0: the payload goes as is), repeated --batch times.
  size_t frameLen = 6 + (size_t)size;
  uint8_t *batchFrames = malloc(frameLen * (size_t)batch);
  for (long b = 0; b < batch; b++) {
    uint8_t *f = batchFrames + b * frameLen;
    f[0] = 0x81;
    f[1] = 0x80 | (uint8_t)size;
    memset(f + 2, 0, 4);
    memset(f + 6, 'x', (size_t)size);
  }

  const double fanout = R + S - 1;
  const double lowWater = (double)(window - batch) * fanout;
  double sent = 0, delivered = 0;
  int nextSender = 0;
  int running = 1;
  struct epoll_event events[256];

  // Subscriptions happen as connections open; give the server a moment to finish them.
  usleep(500000);
  double t0 = now();
  int phase = 0;  // 0 warm-up, 1 measuring, 2 draining
  double startT = 0, stopT = 0, startDelivered = 0, stopDelivered = 0;
  double *startCounts = calloc((size_t)R, sizeof(double));
  double *stopCounts = calloc((size_t)R, sizeof(double));

  for (;;) {
    while (running && sent * fanout - delivered <= lowWater) {
      writeAll(conns[R + nextSender].frames.fd, batchFrames, frameLen * (size_t)batch);
      nextSender = (nextSender + 1) % S;
      sent += (double)batch;
    }
    int ready = epoll_wait(ep, events, 256, 10);
    if (ready < 0 && errno != EINTR) fail("epoll_wait");
    for (int e = 0; e < ready; e++) {
      Conn *c = &conns[events[e].data.u32];
      long m = readAvailable(&c->frames, NULL);
      c->count += (double)m;
      delivered += (double)m;
    }
    checkDeadline(deadline);
    double t = now();
    if (phase == 0 && t - t0 >= warmup) {
      phase = 1;
      startT = t;
      startDelivered = delivered;
      for (int k = 0; k < R; k++) startCounts[k] = conns[k].count;
      printf("start\n");
      fflush(stdout);
    } else if (phase == 1 && t - startT >= duration) {
      phase = 2;
      stopT = t;
      stopDelivered = delivered;
      for (int k = 0; k < R; k++) stopCounts[k] = conns[k].count;
      printf("stop\n");
      fflush(stdout);
      running = 0;
    } else if (phase == 2 && (delivered >= sent * fanout || t - stopT > 5)) {
      break;
    }
  }

  double min = 1e300, max = 0;
  for (int k = 0; k < R; k++) {
    double d = stopCounts[k] - startCounts[k];
    if (d < min) min = d;
    if (d > max) max = d;
  }
  double seconds = stopT - startT;
  printf("{\"deliveries\":%.0f,\"seconds\":%.6f,\"rate\":%.1f,\"sent\":%.0f,\"fanout\":%.0f,"
         "\"perReceiver\":{\"min\":%.0f,\"max\":%.0f},\"lost\":%.0f,\"errors\":[]}\n",
         stopDelivered - startDelivered, seconds, (stopDelivered - startDelivered) / seconds, sent, fanout,
         min, max, sent * fanout - delivered);
  fflush(stdout);
  return 0;
}
