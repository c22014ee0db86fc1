// Load generator of the echo drivers in C (`--load c`: compiled there with the machine's cc), for
// servers that echo faster than a JavaScript client can keep up with on one CPU. Same flags and
// output as load.mjs: opens --connections connections to --url (ws://127.0.0.1:PORT), keeps
// --inflight messages of --size bytes in flight on each (every echo received sends the next),
// warms up for --warmup seconds, then counts echoes for --duration seconds between `start` and
// `stop` lines on stdout, and prints one JSON line
//   {"messages", "seconds", "rate", "bad", "errors"}
// ("bad": echoes that are not a final data frame of --size bytes of the opcode sent). Binary
// messages, or text with --text; masked with a fixed non-zero key (RFC 6455 wants it
// unpredictable, which a benchmark does not need; a zero key would let a server skip unmasking).
// One thread, epoll, blocking writes (at most --inflight frames per connection are ever owed),
// non-blocking reads. Exits 2 on a failed handshake, a closed connection, or after the run plus 20 s.
#include <sys/epoll.h>

#include "lib/raw-ws.h"

static uint64_t expectedLength;
static int expectedOpcode;
static double bad;

// Echo servers send each message back as one frame of the opcode and length sent.
static void checkEcho(uint8_t first, uint64_t length) {
  if (!(first & 0x80) || (first & 0x0f) != expectedOpcode || length != expectedLength) bad++;
}

static int flag(int argc, char **argv, const char *name) {
  for (int k = 1; k < argc; k++)
    if (strcmp(argv[k], name) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  programName = "echo-load.c";
  const char *url = option(argc, argv, "--url", "");
  int port = 0;
  if (sscanf(url, "ws://127.0.0.1:%d", &port) != 1 || port <= 0) {
    errno = 0;
    fail("--url must be ws://127.0.0.1:PORT");
  }
  int connections = atoi(option(argc, argv, "--connections", "50"));
  int inflight = atoi(option(argc, argv, "--inflight", "1"));
  long size = atol(option(argc, argv, "--size", "64"));
  double warmup = atof(option(argc, argv, "--warmup", "1"));
  double duration = atof(option(argc, argv, "--duration", "5"));
  int text = flag(argc, argv, "--text");
  if (connections <= 0 || inflight <= 0 || size <= 0 || size > (64L << 20) || duration <= 0) {
    errno = 0;
    fail("bad arguments");
  }
  expectedLength = (uint64_t)size;
  expectedOpcode = text ? 1 : 2;
  double deadline = now() + warmup + duration + 20;

  // One masked frame, repeated --inflight times: a read that completes m echoes sends m at once.
  size_t headLen = size < 126 ? 6 : size < 65536 ? 8 : 14;
  size_t frameLen = headLen + (size_t)size;
  uint8_t *frames = malloc(frameLen * (size_t)inflight);
  if (frames == NULL) fail("malloc");
  static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};
  for (int f = 0; f < inflight; f++) {
    uint8_t *p = frames + (size_t)f * frameLen;
    p[0] = (uint8_t)(0x80 | expectedOpcode);
    if (size < 126) {
      p[1] = (uint8_t)(0x80 | size);
    } else if (size < 65536) {
      p[1] = 0x80 | 126;
      p[2] = (uint8_t)(size >> 8);
      p[3] = (uint8_t)size;
    } else {
      p[1] = 0x80 | 127;
      for (int k = 0; k < 8; k++) p[2 + k] = (uint8_t)((uint64_t)size >> (56 - 8 * k));
    }
    memcpy(p + headLen - 4, KEY, 4);
    // ASCII payload (valid UTF-8 for --text), the same pattern load.mjs uses, masked.
    for (long k = 0; k < size; k++) p[headLen + k] = (uint8_t)(('a' + (k * 31 + 7) % 26) ^ KEY[k & 3]);
  }

  FrameScanner *conns = calloc((size_t)connections, sizeof(FrameScanner));
  int ep = epoll_create1(0);
  for (int k = 0; k < connections; k++) {
    conns[k].fd = openConnection(port);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].fd, &ev) < 0) fail("epoll_ctl");
  }
  for (int k = 0; k < connections; k++) writeAll(conns[k].fd, frames, frameLen * (size_t)inflight);

  struct epoll_event events[256];
  double t0 = now();
  int phase = 0;  // 0 warm-up, 1 measuring
  double startT = 0, received = 0, startReceived = 0;
  for (;;) {
    int ready = epoll_wait(ep, events, 256, 10);
    if (ready < 0 && errno != EINTR) fail("epoll_wait");
    for (int e = 0; e < ready; e++) {
      FrameScanner *c = &conns[events[e].data.u32];
      long m = readAvailable(c, checkEcho);
      received += (double)m;
      // At most --inflight echoes are ever owed, so m never exceeds the frames prepared.
      if (m > 0) writeAll(c->fd, frames, frameLen * (size_t)m);
    }
    checkDeadline(deadline);
    double t = now();
    if (phase == 0 && t - t0 >= warmup) {
      phase = 1;
      startT = t;
      startReceived = received;
      printf("start\n");
      fflush(stdout);
    } else if (phase == 1 && t - startT >= duration) {
      double seconds = t - startT;
      double messages = received - startReceived;
      printf("stop\n");
      // Every wrong echo counts, warm-up included.
      printf("{\"messages\":%.0f,\"seconds\":%.6f,\"rate\":%.1f,\"bad\":%.0f,\"errors\":[]}\n", messages, seconds,
             messages / seconds, bad);
      fflush(stdout);
      break;
    }
  }
  // Closing the sockets is the servers' cue (a FIN); the drivers stop them afterwards anyway.
  for (int k = 0; k < connections; k++) close(conns[k].fd);
  return 0;
}
