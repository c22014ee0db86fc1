// The part of the C load generators (broadcast-load.c, echo-load.c) common to both: a clock,
// failing with exit code 2, blocking writes, the client handshake on 127.0.0.1 and a scanner of
// server frames that never copies payloads. Single-file programs: everything here is static.
#ifndef RAW_WS_H
#define RAW_WS_H
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// The program's name in error messages (set by main).
static const char *programName = "load";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Prints the message (and errno's, if set) on stderr and exits 2.
static void fail(const char *message) {
  if (errno != 0)
    fprintf(stderr, "%s: %s (%s)\n", programName, message, strerror(errno));
  else
    fprintf(stderr, "%s: %s\n", programName, message);
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

// A connected, upgraded socket to 127.0.0.1:port (blocking, TCP_NODELAY).
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

static const uint8_t EMPTY_PONG[] = {0x8a, 0x80, 0, 0, 0, 0};

// Where a connection's scanner is between reads.
typedef struct {
  int fd;
  uint64_t skip;     // payload bytes of the current frame still to come
  uint8_t head[14];  // a frame header split across reads
  int headLen;
} FrameScanner;

// Called for each data frame header: its first byte (FIN, opcode) and payload length.
typedef void (*OnDataFrame)(uint8_t first, uint64_t length);

// Scans `n` bytes of server frames; calls onData per data frame, answers pings with empty pongs,
// fails on a close frame or a masked one. Returns how many data frames ended a message (FIN).
static long scanFrames(FrameScanner *c, const uint8_t *p, size_t n, OnDataFrame onData) {
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
    if (h[1] & 0x80) {
      errno = 0;
      fail("the server sent a masked frame");
    }
    int opcode = h[0] & 0x0f;
    if (opcode < 3) {
      if (onData != NULL) onData(h[0], length);
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

// Reads and scans what the socket has now (non-blocking); returns the messages that ended in it.
// Fails when the server closed the connection or on a read error.
static long readAvailable(FrameScanner *c, OnDataFrame onData) {
  static uint8_t buf[1 << 17];
  long messages = 0;
  for (;;) {
    ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      messages += scanFrames(c, buf, (size_t)r, onData);
      if (r < (ssize_t)sizeof buf) return messages;
    } else if (r == 0) {
      errno = 0;
      fail("the server closed a connection");
    } else {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return messages;
      if (errno != EINTR) fail("read");
    }
  }
}

// Fails once `deadline` (a now() value) has passed.
static void checkDeadline(double deadline) {
  if (now() > deadline) {
    errno = 0;
    fail("timed out");
  }
}

// The value after `name` in argv, or `fallback`.
static const char *option(int argc, char **argv, const char *name, const char *fallback) {
  for (int k = 1; k + 1 < argc; k++)
    if (strcmp(argv[k], name) == 0) return argv[k + 1];
  return fallback;
}
#endif
