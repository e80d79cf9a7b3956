/* SPDX-License-Identifier: MIT */
/*
 * This file implements the HTTP engine of rmt_http.h on libcurl.
 *
 * Why it is built this way:
 *  - One CURLSH holds the DNS cache and TLS sessions for every thread; curl
 *    calls our lock callbacks (one mutex per kind of shared data) around it.
 *    Connections are not shared between threads (libcurl 7.88 cannot do it
 *    safely): each thread keeps a multi handle between its runs, whose
 *    connection cache its next requests reuse (thread_multi()).
 *  - Each http_run() drives that multi handle in the calling thread: no
 *    engine thread, nothing to stop before a fork.
 *  - The in-flight bound is a counter under eng_lock.  A thread blocks for a
 *    slot only while it has no transfer of its own in flight; otherwise it
 *    only tries, and polls its transfers meanwhile.  Blocking while holding
 *    slots whose transfers nobody drives could deadlock the process.
 *  - A request waiting out a retry delay holds no slot.
 *  - A new easy handle per try keeps the options simple: the prepare
 *    callback may change r->headers between tries; the share keeps the
 *    connection warm anyway.
 *  - Messages are composed per transfer (x->msg) and the first failure's is
 *    set with ck_err() at the end, because the thread-local message would
 *    otherwise be overwritten by the other transfers of the same run.
 */
#include "remote/rmt_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "remote/remote.h"
#include "remote/rmt_parse.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

#define ERR_BODY_MAX (64 * 1024) /* error bodies kept for the caller */
#define BACKOFF_CAP_MS 30000
#define RETRY_AFTER_MAX_S 30

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;	/* curl_global_init's result */
static const char *ca_file;	/* SSL_CERT_FILE or CURL_CA_BUNDLE, read once */
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static pthread_mutex_t eng_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cond = PTHREAD_COND_INITIALIZER;
static struct http_conf conf = { 32, 30, 10, 8 }; /* eng_lock */
static unsigned in_flight;	/* eng_lock: transfers in flight */
static CURLSH *share;		/* eng_lock: made on first use */

static atomic_uint_fast64_t n_requests, n_bytes, n_retries, n_failures;

enum xstate { X_WAIT, X_ACTIVE, X_DONE };

/* One request's progress through its tries. */
struct xfer {
	struct http_req *r;
	enum xstate state;
	CURL *easy;		/* X_ACTIVE only */
	unsigned tries;		/* tries started */
	long long when_ms;	/* X_WAIT: not before this (now_ms()) */
	uint64_t got;		/* body bytes in r->out (kept across tries of
				   a ranged GET: the resume point) */
	uint64_t cr_start;	/* this try's Content-Range start, or
				   UINT64_MAX */
	int body_seen;		/* this try's body has started */
	int is_data;		/* this try's body is the 2xx data */
	struct ck_buf body;	/* the collected body, or an error body */
	int err;		/* a failure that is not retried */
	int prepared;		/* r->prepare ran for the next try */
	long long last_ms;	/* this try's last progress (now_ms()) */
	curl_off_t last_now;	/* bytes received then */
	long long stall_ms;	/* no progress for this long: cut off */
	int stalled;		/* this try was cut off for that */
	char range[48];
	char errbuf[CURL_ERROR_SIZE];
	char url[256];		/* r->url for messages */
	char msg[512];		/* the message for err */
};

static void global_init(void)
{
	const char *e;

	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	e = getenv("SSL_CERT_FILE");
	if (!e || !*e)
		e = getenv("CURL_CA_BUNDLE");
	ca_file = e && *e ? strdup(e) : NULL;
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h, (void)a, (void)u;
	pthread_mutex_lock(&share_locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
	(void)h, (void)u;
	pthread_mutex_unlock(&share_locks[d]);
}

/* The share handle, made on first use.  eng_lock held. */
static CURLSH *share_get(void)
{
	if (share)
		return share;
	share = curl_share_init();
	if (!share)
		return NULL;
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	/* Not the connection cache: libcurl 7.88 cannot share it between
	 * threads safely (its KNOWN_BUGS; valgrind showed a connection freed
	 * by one thread and written by another).  Each thread keeps its own,
	 * in its multi handle (thread_multi()). */
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return share;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Full jitter needs no good randomness, only no lockstep between threads. */
static uint64_t jitter_rand(void)
{
	static _Thread_local uint64_t s;

	if (!s)
		s = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15u;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

/* Retries at most of a failure to resolve or to connect. */
#define NET_RETRIES_MAX 2

/* The delay before try `retry` + 1 (retry counts from 0). */
static long long backoff_ms(unsigned retry, unsigned retry_after_s)
{
	long long cap = retry >= 19 ? BACKOFF_CAP_MS : 100LL << retry;
	long long d;

	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	d = (long long)(jitter_rand() % (uint64_t)(cap + 1));
	if (retry_after_s) {
		long long ra = (long long)(retry_after_s > RETRY_AFTER_MAX_S ?
					   RETRY_AFTER_MAX_S : retry_after_s) * 1000;
		if (ra > d)
			d = ra;
	}
	return d;
}

/* A slot for one transfer: 1, or 0 when none is free and !block. */
static int slot_get(int block)
{
	pthread_mutex_lock(&eng_lock);
	while (in_flight >= conf.concurrency) {
		if (!block) {
			pthread_mutex_unlock(&eng_lock);
			return 0;
		}
		pthread_cond_wait(&slot_cond, &eng_lock);
	}
	in_flight++;
	pthread_mutex_unlock(&eng_lock);
	return 1;
}

static void slot_put(void)
{
	pthread_mutex_lock(&eng_lock);
	in_flight--;
	pthread_cond_signal(&slot_cond);
	pthread_mutex_unlock(&eng_lock);
}

static void xfail(struct xfer *x, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void xfail(struct xfer *x, int err, const char *fmt, ...)
{
	va_list ap;

	if (x->err)
		return;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	x->err = err;
}

/* ---- response callbacks ---- */

static void header_value(struct xfer *x, const char *name, const char *v)
{
	struct http_req *r = x->r;
	unsigned long long a, b, t;

	if (!strcasecmp(name, "etag")) {
		/* One that does not fit is dropped: a cut one never matches. */
		if (strlen(v) < sizeof(r->etag))
			strcpy(r->etag, v);
	} else if (!strcasecmp(name, "x-goog-generation")) {
		if (strlen(v) < sizeof(r->generation))
			strcpy(r->generation, v);
	} else if (!strcasecmp(name, "content-range")) {
		if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
			x->cr_start = a;
			r->total = t;
		} else if (sscanf(v, "bytes */%llu", &t) == 1) {
			r->total = t;
		}
	} else if (!strcasecmp(name, "content-length")) {
		if (r->status == 200 && sscanf(v, "%llu", &t) == 1)
			r->total = t;
	} else if (!strcasecmp(name, "retry-after")) {
		time_t when;

		if (sscanf(v, "%llu", &t) == 1) {
			r->retry_after_s = t > RETRY_AFTER_MAX_S ?
				RETRY_AFTER_MAX_S : (unsigned)t;
		} else if ((when = curl_getdate(v, NULL)) > 0) {
			time_t d = when - time(NULL);

			r->retry_after_s = d <= 0 ? 0 : d > RETRY_AFTER_MAX_S ?
				RETRY_AFTER_MAX_S : (unsigned)d;
		}
	}
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	struct http_req *r = x->r;
	size_t len = size * nmemb, n = len;
	char line[512], *v;

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, p, n);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	line[n] = '\0';
	if (!strncmp(line, "HTTP/", 5)) {
		/* A new response (after a 100 or a proxy's CONNECT). */
		v = strchr(line, ' ');
		r->status = v ? strtol(v + 1, NULL, 10) : 0;
		r->etag[0] = r->generation[0] = '\0';
		r->total = UINT64_MAX;
		r->retry_after_s = 0;
		x->cr_start = UINT64_MAX;
		return len;
	}
	v = strchr(line, ':');
	if (!v)
		return len;
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	header_value(x, line, v);
	return len;
}

/* on_header() outside a transfer: for the fuzz target (rmt_parse.h). */
void http_header_line(struct http_req *r, const char *p, size_t n,
		      uint64_t *cr_start)
{
	struct xfer x = { .r = r, .cr_start = *cr_start };

	on_header((char *)p, 1, n, &x);
	*cr_start = x.cr_start;
}

/* The first bytes of a 2xx body: is it the range asked for? */
static int body_start_ok(struct xfer *x)
{
	struct http_req *r = x->r;
	uint64_t want = r->range_off + x->got;

	if (!r->range_len)
		return 1;
	if (r->status != 206) {
		xfail(x, -EIO, "%s: the server ignores Range requests (%ld)",
		      x->url, r->status);
		return 0;
	}
	/* A resumed range must start where the last try stopped. */
	if (x->cr_start != want) {
		xfail(x, -EIO, "%s: asked for bytes from %llu, got them from "
		      "%llu", x->url, (unsigned long long)want,
		      (unsigned long long)x->cr_start);
		return 0;
	}
	return 1;
}

/*
 * Progress of a try: one that has received nothing new for stall_ms is cut
 * off, to be retried.  curl's own low-speed check averages the speed over
 * seconds, and misses a stall that follows a burst of bytes.
 */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ctx;
	long long now = now_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow + ulnow != x->last_now) {
		x->last_now = dlnow + ulnow;
		x->last_ms = now;
		return 0;
	}
	if (now - x->last_ms < x->stall_ms)
		return 0;
	x->stalled = 1;
	return 1;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	struct http_req *r = x->r;
	size_t len = size * nmemb;

	atomic_fetch_add(&n_bytes, len);
	if (!x->body_seen) {
		x->body_seen = 1;
		x->is_data = r->status >= 200 && r->status < 300;
		if (x->is_data && !body_start_ok(x))
			return 0;
	}
	if (!x->is_data) {
		size_t keep = ERR_BODY_MAX - x->body.len;

		if (len < keep)
			keep = len;
		if (keep && ck_buf_append(&x->body, p, keep) == 0)
			return len;
		return len; /* an error body is best effort */
	}
	if (r->out) {
		if (len > r->out_len - x->got) {
			xfail(x, -EIO, "%s: the body is longer than the %zu "
			      "bytes asked for", x->url, r->out_len);
			return 0;
		}
		memcpy(r->out + x->got, p, len);
		x->got += len;
		return len;
	}
	if (len > r->max_body - x->body.len) {
		xfail(x, -EFBIG, "%s: larger than %zu bytes", x->url,
		      r->max_body);
		return 0;
	}
	if (ck_buf_grow(&x->body, len + 1)) {
		xfail(x, -ENOMEM, "%s: out of memory for the body", x->url);
		return 0;
	}
	ck_buf_append(&x->body, p, len);
	x->got += len;
	return len;
}

/* ---- one try ---- */

static int try_setup(struct xfer *x, CURL *e, const struct http_conf *c)
{
	struct http_req *r = x->r;
	const char *m = r->method ? r->method : "GET";
	CURLSH *sh;

	pthread_mutex_lock(&eng_lock);
	sh = share_get();
	pthread_mutex_unlock(&eng_lock);
	if (!sh)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_SHARE, sh);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	x->stall_ms = (long long)c->timeout_s * 1000;
	x->last_ms = now_ms();
	x->last_now = 0;
	x->stalled = 0;
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
	if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(m, "POST")) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post ? r->post : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->post_len);
	} else if (strcmp(m, "GET")) {
		xfail(x, -EINVAL, "%s: method '%s' not supported", x->url, m);
		return -EINVAL;
	}
	if (r->range_len) {
		snprintf(x->range, sizeof(x->range), "%llu-%llu",
			 (unsigned long long)(r->range_off + x->got),
			 (unsigned long long)(r->range_off + r->range_len - 1));
		curl_easy_setopt(e, CURLOPT_RANGE, x->range);
	}
	return 0;
}

/*
 * Run r->prepare for x's next try, before a slot is taken: a prepare may
 * itself run requests (a token), which need slots of their own.  0, or
 * -errno with x->err set.
 */
static int try_prepare(struct xfer *x)
{
	struct http_req *r = x->r;
	int err;

	if (!r->prepare || x->prepared)
		return 0;
	ck_err_clear();
	err = r->prepare(r, r->prepare_ctx);
	if (err) {
		xfail(x, err, "%s", ck_err_msg());
		return err;
	}
	x->prepared = 1;
	return 0;
}

/* Start a try of x (prepared, a slot held).  0, or -errno with x->err
 * set. */
static int try_start(struct xfer *x, CURLM *multi, const struct http_conf *c)
{
	struct http_req *r = x->r;
	int err;

	x->prepared = 0;
	http_url_for_msg(r->url, x->url, sizeof(x->url));
	if (!(r->range_len && r->out))
		x->got = 0; /* only a ranged GET into out resumes */
	ck_buf_release(&x->body);
	x->body_seen = x->is_data = 0;
	x->errbuf[0] = '\0';
	r->status = 0;
	x->easy = curl_easy_init();
	if (!x->easy) {
		xfail(x, -ENOMEM, "%s: out of memory for a transfer", x->url);
		return -ENOMEM;
	}
	err = try_setup(x, x->easy, c);
	if (!err && curl_multi_add_handle(multi, x->easy) != CURLM_OK)
		err = -ENOMEM;
	if (err) {
		xfail(x, err, "%s: cannot start the transfer", x->url);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		return err;
	}
	x->tries++;
	x->state = X_ACTIVE;
	atomic_fetch_add(&n_requests, 1);
	return 0;
}

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* Worth another try: the network, not the request, failed. */
static int curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_SSL_CONNECT_ERROR: /* a reset during the handshake */
		return 1;
	default:
		return 0;
	}
}

static int status_retryable(long s)
{
	return s == 408 || s == 429 || s >= 500;
}

/* A try of x ended with cc: done, or waiting for the next try. */
static void try_end(struct xfer *x, CURLM *multi, CURLcode cc,
		    const struct http_conf *c)
{
	struct http_req *r = x->r;
	int head = r->method && !strcmp(r->method, "HEAD");
	int err = 0, again = 0;

	curl_multi_remove_handle(multi, x->easy);
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	slot_put();
	if (x->err)
		goto out_fail;
	if (cc == CURLE_ABORTED_BY_CALLBACK && x->stalled) {
		err = -ETIMEDOUT;
		again = 1;
		snprintf(x->msg, sizeof(x->msg), "%s: no progress for %lld s",
			 x->url, x->stall_ms / 1000);
	} else if (cc != CURLE_OK) {
		err = curl_errno(cc);
		again = curl_retryable(cc);
		/* curl's detail for TLS and connections names no query. */
		if (err == -EPROTO || err == -EHOSTUNREACH)
			snprintf(x->msg, sizeof(x->msg), "%s: %s", x->url,
				 x->errbuf[0] ? x->errbuf :
				 curl_easy_strerror(cc));
		else
			snprintf(x->msg, sizeof(x->msg), "%s: %s", x->url,
				 curl_easy_strerror(cc));
	} else if (status_retryable(r->status)) {
		err = -EIO;
		again = 1;
		snprintf(x->msg, sizeof(x->msg), "%s: HTTP %ld", x->url,
			 r->status);
	} else if (r->status >= 200 && r->status < 300 && r->out && !head &&
		   x->got != r->out_len) {
		err = -EIO;
		again = 1;
		snprintf(x->msg, sizeof(x->msg),
			 "%s: short body (%llu of %zu bytes)", x->url,
			 (unsigned long long)x->got, r->out_len);
	}
	if (!err) {
		if (!r->out || x->body.len) {
			if (ck_buf_grow(&x->body, 1)) {
				xfail(x, -ENOMEM, "%s: out of memory", x->url);
				goto out_fail;
			}
			x->body.data[x->body.len] = '\0';
			r->body = ck_buf_detach(&x->body, &r->body_len);
		}
		x->state = X_DONE;
		return;
	}
	/* A name that does not resolve, or a port nobody listens on, is
	 * most likely a wrong URL: a few quick tries, not the full backoff. */
	if (again && err == -EHOSTUNREACH && x->tries > NET_RETRIES_MAX)
		again = 0;
	if (again && x->tries <= c->retries) {
		atomic_fetch_add(&n_retries, 1);
		x->when_ms = now_ms() + backoff_ms(x->tries - 1, r->retry_after_s);
		x->state = X_WAIT;
		return;
	}
	if (x->tries > 1) {
		size_t l = strlen(x->msg);

		snprintf(x->msg + l, sizeof(x->msg) - l, " (after %u tries)",
			 x->tries);
	}
	x->err = err;
out_fail:
	atomic_fetch_add(&n_failures, 1);
	x->state = X_DONE;
}

/* ---- the loop ---- */

/* Start the transfers whose time has come, as slots allow.  Returns how long
 * to wait at most before looking again (ms). */
static long start_ready(struct xfer *xs, size_t n, CURLM *multi,
			const struct http_conf *c, size_t *active, size_t *left)
{
	long long now = now_ms();
	long wait = 1000;

	for (size_t i = 0; i < n; i++) {
		struct xfer *x = &xs[i];

		if (x->state != X_WAIT)
			continue;
		if (x->when_ms > now) {
			if (x->when_ms - now < wait)
				wait = (long)(x->when_ms - now);
			continue;
		}
		if (try_prepare(x)) {
			atomic_fetch_add(&n_failures, 1);
			x->state = X_DONE;
			(*left)--;
			continue;
		}
		if (!slot_get(*active == 0)) {
			wait = wait < 10 ? wait : 10;
			break;
		}
		if (try_start(x, multi, c)) {
			slot_put();
			atomic_fetch_add(&n_failures, 1);
			x->state = X_DONE;
			(*left)--;
			continue;
		}
		(*active)++;
	}
	return wait;
}

/* Each thread's multi handle, kept between its runs: it holds the
 * thread's connection cache, so that the thread's next requests reuse its
 * connections.  Freed when the thread ends. */
static int http_run_in(struct http_req *reqs, size_t n);
static pthread_key_t multi_key;
static pthread_once_t multi_once = PTHREAD_ONCE_INIT;
static _Thread_local unsigned run_depth;

static void multi_free(void *m)
{
	curl_multi_cleanup(m);
}

static void multi_key_init(void)
{
	if (pthread_key_create(&multi_key, multi_free))
		multi_key = (pthread_key_t)-1;
}

/* The calling thread's multi handle; a run nested in another's prepare
 * (a token) gets one of its own, which *own says to clean up. */
static CURLM *thread_multi(int *own)
{
	CURLM *m;

	pthread_once(&multi_once, multi_key_init);
	*own = run_depth > 1 || multi_key == (pthread_key_t)-1;
	if (*own)
		return curl_multi_init();
	m = pthread_getspecific(multi_key);
	if (!m) {
		m = curl_multi_init();
		if (m && pthread_setspecific(multi_key, m)) {
			curl_multi_cleanup(m);
			m = NULL;
		}
	}
	return m;
}

int http_run(struct http_req *reqs, size_t n)
{
	int err;

	run_depth++;
	err = http_run_in(reqs, n);
	run_depth--;
	return err;
}

static int http_run_in(struct http_req *reqs, size_t n)
{
	struct http_conf c;
	struct xfer *xs = NULL, *first = NULL;
	CURLM *multi = NULL;
	size_t active = 0, left = n;
	int err = 0, own = 0;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return ck_err(-EIO, "libcurl: cannot initialise: %s",
			      curl_easy_strerror(global_rc));
	if (!n)
		return 0;
	pthread_mutex_lock(&eng_lock);
	c = conf;
	pthread_mutex_unlock(&eng_lock);
	xs = calloc(n, sizeof(*xs));
	multi = thread_multi(&own);
	if (!xs || !multi) {
		err = ck_err(-ENOMEM, "out of memory for %zu transfers", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		xs[i].r = &reqs[i];
		xs[i].state = X_WAIT;
		reqs[i].status = 0;
		reqs[i].total = UINT64_MAX;
	}
	while (left) {
		long wait = start_ready(xs, n, multi, &c, &active, &left);
		int still, ended = 0;
		CURLMsg *m;

		if (!active) {
			if (left) {
				struct timespec ts = { wait / 1000,
						       (wait % 1000) * 1000000 };
				nanosleep(&ts, NULL);
			}
			continue;
		}
		curl_multi_perform(multi, &still);
		while ((m = curl_multi_info_read(multi, &still))) {
			struct xfer *x = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&x);
			try_end(x, multi, m->data.result, &c);
			active--;
			ended = 1;
			if (x->state == X_DONE)
				left--;
		}
		if (!ended)
			curl_multi_poll(multi, NULL, 0, (int)wait, NULL);
	}
	for (size_t i = 0; i < n; i++)
		if (xs[i].err && !first)
			first = &xs[i];
	if (first)
		err = ck_err(first->err, "%s", first->msg);
out:
	if (xs)
		for (size_t i = 0; i < n; i++)
			ck_buf_release(&xs[i].body);
	if (multi && own)
		curl_multi_cleanup(multi);
	free(xs);
	return err;
}

int http_run1(struct http_req *r)
{
	return http_run(r, 1);
}

int http_configure(const struct http_conf *c)
{
	if (!c->concurrency || !c->timeout_s || !c->connect_timeout_s)
		return ck_err(-EINVAL, "http: zero concurrency or timeout");
	pthread_once(&global_once, global_init);
	pthread_mutex_lock(&eng_lock);
	conf = *c;
	pthread_cond_broadcast(&slot_cond);
	pthread_mutex_unlock(&eng_lock);
	return 0;
}

void http_get_counters(struct rmt_counters *c)
{
	c->requests = atomic_load(&n_requests);
	c->bytes = atomic_load(&n_bytes);
	c->retries = atomic_load(&n_retries);
	c->failures = atomic_load(&n_failures);
}

void http_shutdown(void)
{
	pthread_mutex_lock(&eng_lock);
	if (share)
		curl_share_cleanup(share);
	share = NULL;
	pthread_mutex_unlock(&eng_lock);
}
