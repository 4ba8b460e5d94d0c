/* An FFI event callback for livekit.rtc that never takes the GIL (an experiment: see
 * native_events.py). The FFI's threads call `cc_lk_event` with each encoded event; it is
 * appended, length-prefixed, to one buffer under a mutex, and an eventfd is written only
 * when the buffer was empty, so a busy event loop is woken once per batch and the FFI's
 * threads never wait for the interpreter. The loop takes the whole buffer at once. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *buf;
static size_t len, cap;
static int efd = -1;

void cc_lk_event(const uint8_t *data, size_t n) {
    pthread_mutex_lock(&mu);
    size_t need = len + 4 + n;
    if (need > cap) {
        size_t c = cap ? cap : 65536;
        while (c < need) c *= 2;
        uint8_t *nb = realloc(buf, c);
        if (!nb) { pthread_mutex_unlock(&mu); return; }
        buf = nb;
        cap = c;
    }
    int was_empty = len == 0;
    uint32_t n32 = (uint32_t)n;
    memcpy(buf + len, &n32, 4);
    memcpy(buf + len + 4, data, n);
    len = need;
    int fd = efd;
    pthread_mutex_unlock(&mu);
    if (was_empty && fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(fd, &one, sizeof one);
        (void)r;
    }
}

/* Hands over everything queued (the caller frees it with cc_lk_free). */
size_t cc_lk_take(uint8_t **out) {
    pthread_mutex_lock(&mu);
    *out = buf;
    size_t n = len;
    buf = NULL;
    len = cap = 0;
    pthread_mutex_unlock(&mu);
    return n;
}

void cc_lk_free(uint8_t *p) { free(p); }

int cc_lk_fd(void) {
    pthread_mutex_lock(&mu);
    if (efd < 0) efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int fd = efd;
    pthread_mutex_unlock(&mu);
    return fd;
}
