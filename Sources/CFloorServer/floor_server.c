#define _GNU_SOURCE
#include "floor_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PREFACE_LEN 8
#define MAX_FRAME (16u * 1024u * 1024u)
#define READ_CHUNK (256u * 1024u)
#define MAX_THREADS 64

typedef struct conn {
    int fd;
    int worker;
    int preface_done;
    unsigned char *in;
    size_t in_len, in_cap;
    unsigned char *out;
    size_t out_off, out_len, out_cap;
    struct conn *prev, *next; /* the worker's list, for cleanup */
} conn;

typedef struct worker {
    struct floor_server *server;
    int index;
    int epfd;
    int wake_fd; /* eventfd: a new connection to adopt, or stop */
    pthread_t thread;
    conn *conns; /* touched only by this worker's thread (after registration) */
    pthread_mutex_t pending_lock;
    conn *pending; /* handed over by the acceptor, not yet in `conns` */
} worker;

struct floor_server {
    int listen_fd;
    int nthreads;
    int next_worker;
    atomic_int stopping;
    atomic_uint_fast64_t frames;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    worker workers[MAX_THREADS];
};

static const unsigned char server_preface[PREFACE_LEN] = {'I', 'R', 'S', 'K', 0, 1, 0, 0};
/* epoll data tag for the listening socket; a worker's wake fd is tagged with the worker */
static char LISTEN_TAG;

static void conn_close(worker *w, conn *c) {
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev) c->prev->next = c->next; else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c->in);
    free(c->out);
    free(c);
}

static int ensure(unsigned char **buf, size_t *cap, size_t need) {
    if (*cap >= need) return 0;
    size_t n = *cap ? *cap : READ_CHUNK;
    while (n < need) n *= 2;
    unsigned char *p = realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* Appends to the output queue (only used when a write could not finish). */
static int queue_out(conn *c, const unsigned char *bytes, size_t len) {
    if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (ensure(&c->out, &c->out_cap, c->out_len + len) != 0) return -1;
    memcpy(c->out + c->out_len, bytes, len);
    c->out_len += len;
    return 0;
}

/* Writes queued output; 1 = all written, 0 = would block, -1 = error. */
static int flush_out(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) { c->out_off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

/* Sends bytes now if nothing is queued, queueing what the socket does not take. */
static int send_or_queue(conn *c, const unsigned char *bytes, size_t len) {
    if (c->out_len == c->out_off) {
        while (len > 0) {
            ssize_t n = send(c->fd, bytes, len, MSG_NOSIGNAL);
            if (n > 0) { bytes += n; len -= (size_t)n; continue; }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            return -1;
        }
        if (len == 0) return 0;
    }
    return queue_out(c, bytes, len);
}

static void set_interest(worker *w, conn *c) {
    struct epoll_event ev = {0};
    /* While output is queued, stop reading: the client must drain first. */
    ev.events = (c->out_len > c->out_off) ? EPOLLOUT : EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Reads once, echoes every complete frame; -1 closes the connection. */
static int on_readable(worker *w, conn *c) {
    if (ensure(&c->in, &c->in_cap, c->in_len + READ_CHUNK) != 0) return -1;
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n == 0) return -1;
    if (n < 0) return (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK) ? 0 : -1;
    c->in_len += (size_t)n;
    size_t pos = 0;
    if (!c->preface_done) {
        if (c->in_len < PREFACE_LEN) return 0;
        if (memcmp(c->in, "IRSK", 4) != 0) return -1;
        if (send_or_queue(c, server_preface, PREFACE_LEN) != 0) return -1;
        c->preface_done = 1;
        pos = PREFACE_LEN;
    }
    size_t start = pos;
    uint64_t frames = 0;
    while (c->in_len - pos >= 4) {
        const unsigned char *p = c->in + pos;
        uint32_t len = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        if (len > MAX_FRAME) return -1;
        if (c->in_len - pos - 4 < len) break;
        pos += 4 + (size_t)len;
        frames++;
    }
    if (pos > start && send_or_queue(c, c->in + start, pos - start) != 0) return -1;
    if (frames) atomic_fetch_add_explicit(&w->server->frames, frames, memory_order_relaxed);
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (c->out_len > c->out_off) set_interest(w, c);
    return 0;
}

static void adopt_pending(worker *w) {
    pthread_mutex_lock(&w->pending_lock);
    conn *list = w->pending;
    w->pending = NULL;
    pthread_mutex_unlock(&w->pending_lock);
    while (list) {
        conn *c = list;
        list = c->next;
        c->prev = NULL;
        c->next = w->conns;
        if (w->conns) w->conns->prev = c;
        w->conns = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) conn_close(w, c);
    }
}

static void accept_all(struct floor_server *s) {
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN or an error: either way, back to epoll */
        conn *c = calloc(1, sizeof(conn));
        if (!c) { close(fd); continue; }
        c->fd = fd;
        worker *w = &s->workers[s->next_worker];
        s->next_worker = (s->next_worker + 1) % s->nthreads;
        c->worker = w->index;
        pthread_mutex_lock(&w->pending_lock);
        c->next = w->pending;
        w->pending = c;
        pthread_mutex_unlock(&w->pending_lock);
        uint64_t one = 1; /* wake the worker so that it adopts the connection */
        if (w->index != 0) { ssize_t ignored = write(w->wake_fd, &one, sizeof one); (void)ignored; }
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    struct floor_server *s = w->server;
    struct epoll_event events[64];
    while (!atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
        int n = epoll_wait(w->epfd, events, 64, 100);
        adopt_pending(w);
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &LISTEN_TAG) { accept_all(s); adopt_pending(w); continue; }
            if (tag == (void *)w) {
                uint64_t count;
                ssize_t ignored = read(w->wake_fd, &count, sizeof count);
                (void)ignored;
                continue;
            }
            conn *c = tag;
            int rc = 0;
            if (events[i].events & EPOLLOUT) {
                rc = flush_out(c);
                if (rc == 1) { set_interest(w, c); rc = 0; }
            } else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                rc = on_readable(w, c);
            }
            if (rc < 0) conn_close(w, c);
        }
    }
    adopt_pending(w);
    while (w->conns) conn_close(w, w->conns);
    return NULL;
}

floor_server *floor_server_start(const char *path, int threads, int *error_out) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    struct floor_server *s = calloc(1, sizeof *s);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!s) { *error_out = ENOMEM; return NULL; }
    if (strlen(path) >= sizeof addr.sun_path) { free(s); *error_out = ENAMETOOLONG; return NULL; }
    strcpy(addr.sun_path, path);
    strcpy(s->path, path);
    s->nthreads = threads;
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0
        || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0
        || listen(s->listen_fd, 256) != 0) {
        *error_out = errno;
        if (s->listen_fd >= 0) close(s->listen_fd);
        free(s);
        return NULL;
    }
    int started = 0;
    for (int i = 0; i < threads; i++) {
        worker *w = &s->workers[i];
        w->server = s;
        w->index = i;
        pthread_mutex_init(&w->pending_lock, NULL);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event wake = {.events = EPOLLIN, .data.ptr = w};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &wake);
        if (i == 0) {
            struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = &LISTEN_TAG};
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->listen_fd, &listen_ev);
        }
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) break;
        started++;
    }
    if (started < threads) {
        s->nthreads = started; /* stop joins only what started */
        *error_out = EAGAIN;
        floor_server_stop(s);
        return NULL;
    }
    return s;
}

uint64_t floor_server_frames(floor_server *server) {
    return atomic_load_explicit(&server->frames, memory_order_relaxed);
}

void floor_server_stop(floor_server *s) {
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nthreads; i++) {
        uint64_t one = 1;
        ssize_t ignored = write(s->workers[i].wake_fd, &one, sizeof one);
        (void)ignored;
    }
    for (int i = 0; i < s->nthreads; i++) pthread_join(s->workers[i].thread, NULL);
    for (int i = 0; i < MAX_THREADS && s->workers[i].server; i++) {
        close(s->workers[i].epfd);
        close(s->workers[i].wake_fd);
        pthread_mutex_destroy(&s->workers[i].pending_lock);
    }
    close(s->listen_fd);
    unlink(s->path);
    free(s);
}
