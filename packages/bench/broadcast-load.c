// Load generator of broadcast.mjs in C (`--load c`: compiled there with the machine's cc), for
// servers that broadcast faster than broadcast-load.mjs can count on one CPU. Same flags, same
// behaviour, same output as broadcast-load.mjs: opens --receivers then --senders connections to
// 127.0.0.1:--port, senders write --batch text messages of --size bytes at a time while fewer than
// --window - --batch messages are undelivered somewhere; every connection scans frame headers and
// counts messages; `start` and `stop` lines around the measured window, then one JSON line
//   {"deliveries", "seconds", "rate", "sent", "fanout", "perReceiver": {min, max}, "lost", "errors"}
// One thread, epoll, blocking writes (the window keeps them small), non-blocking reads.
// Exits 2 on a failed handshake, a closed connection, or after the run plus 60 s.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  uint64_t skip;     // payload bytes of the current frame still to come
  uint8_t head[14];  // a frame header split across reads
  int headLen;
  double count;      // messages received
} Conn;

static Conn *conns;
static int nconns;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *message) {
  fprintf(stderr, "broadcast-load.c: %s (%s)\n", message, strerror(errno));
  exit(2);
}

static void writeAll(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    p += w;
    n -= (size_t)w;
  }
}

static const uint8_t EMPTY_PONG[] = {0x8a, 0x80, 0, 0, 0, 0};

static int openConnection(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char request[256];
  int n = snprintf(request, sizeof request,
                   "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   port);
  writeAll(fd, (const uint8_t *)request, (size_t)n);
  // Read the response byte by byte up to its blank line, so no frame is consumed with it.
  char response[4096];
  int len = 0;
  while (len < (int)sizeof response - 1) {
    ssize_t r = recv(fd, response + len, 1, 0);
    if (r <= 0) fail("handshake: connection closed");
    len++;
    if (len >= 4 && memcmp(response + len - 4, "\r\n\r\n", 4) == 0) break;
  }
  response[len] = 0;
  // The accept value for the fixed key above (RFC 6455's own example).
  if (strncmp(response, "HTTP/1.1 101", 12) != 0 || !strstr(response, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
    errno = 0;
    fail("handshake refused");
  }
  return fd;
}

// Scans `n` bytes of server frames on `c`; returns how many data messages ended in them.
static long scan(Conn *c, const uint8_t *p, size_t n) {
  long messages = 0;
  size_t i = 0;
  if (c->skip >= n) {
    c->skip -= n;
    return 0;
  }
  i = (size_t)c->skip;
  c->skip = 0;
  while (i < n) {
    const uint8_t *h = p + i;
    size_t avail = n - i;
    uint8_t joined[14];
    if (c->headLen > 0) {
      // Complete a header split across reads (headers are at most 14 bytes).
      size_t take = avail < (size_t)(14 - c->headLen) ? avail : (size_t)(14 - c->headLen);
      memcpy(joined, c->head, (size_t)c->headLen);
      memcpy(joined + c->headLen, h, take);
      h = joined;
      avail = (size_t)c->headLen + take;
    }
    if (avail < 2) goto partial;
    uint64_t length = h[1] & 0x7f;
    size_t head = 2;
    if (length == 126) {
      if (avail < 4) goto partial;
      length = ((uint64_t)h[2] << 8) | h[3];
      head = 4;
    } else if (length == 127) {
      if (avail < 10) goto partial;
      length = 0;
      for (int k = 2; k < 10; k++) length = (length << 8) | h[k];
      head = 10;
    }
    int opcode = h[0] & 0x0f;
    if (opcode < 3) {
      if (h[0] & 0x80) messages++;
    } else if (opcode == 0x9) {
      writeAll(c->fd, EMPTY_PONG, sizeof EMPTY_PONG);
    } else if (opcode == 0x8) {
      errno = 0;
      fail("the server closed a connection");
    }
    // Where this frame ends, relative to p[i] (a joined header started before p).
    size_t consumed = head - (size_t)c->headLen;
    c->headLen = 0;
    uint64_t end = (uint64_t)i + consumed + length;
    if (end > n) {
      c->skip = end - n;
      return messages;
    }
    i = (size_t)end;
    continue;
  partial:
    if (c->headLen > 0) {
      size_t take = avail - (size_t)c->headLen;
      memcpy(c->head + c->headLen, p + i, take);
      c->headLen += (int)take;
    } else {
      memcpy(c->head, p + i, avail);
      c->headLen = (int)avail;
    }
    return messages;
  }
  return messages;
}

static const char *option(int argc, char **argv, const char *name, const char *fallback) {
  for (int k = 1; k + 1 < argc; k++)
    if (strcmp(argv[k], name) == 0) return argv[k + 1];
  return fallback;
}

int main(int argc, char **argv) {
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
    conns[k].fd = openConnection(port);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].fd, &ev) < 0) fail("epoll_ctl");
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
  static uint8_t buf[1 << 16];
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
      writeAll(conns[R + nextSender].fd, batchFrames, frameLen * (size_t)batch);
      nextSender = (nextSender + 1) % S;
      sent += (double)batch;
    }
    int ready = epoll_wait(ep, events, 256, 10);
    if (ready < 0 && errno != EINTR) fail("epoll_wait");
    for (int e = 0; e < ready; e++) {
      Conn *c = &conns[events[e].data.u32];
      for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
          long m = scan(c, buf, (size_t)r);
          c->count += (double)m;
          delivered += (double)m;
          if (r < (ssize_t)sizeof buf) break;
        } else if (r == 0) {
          errno = 0;
          fail("the server closed a connection");
        } else {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno != EINTR) fail("read");
        }
      }
    }
    double t = now();
    if (t > deadline) {
      errno = 0;
      fail("timed out");
    }
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
