/* SPDX-License-Identifier: MIT */
/*
 * rmt_gcs_auth.h - credentials for Cloud Storage (private to src/remote/).
 *
 * The credentials are looked up once, on the first request, in the order of
 * Google's client libraries:
 *   0. STORAGE_EMULATOR_HOST set: anonymous (an emulator, as the client
 *      libraries do);
 *   1. GOOGLE_APPLICATION_CREDENTIALS: a JSON key file, "service_account"
 *      (a JWT signed RS256, exchanged at the file's token_uri) or
 *      "authorized_user" (a refresh token, exchanged at its token_uri);
 *   2. gcloud's application_default_credentials.json ($CLOUDSDK_CONFIG, or
 *      ~/.config/gcloud), the same two types;
 *   3. the metadata server (GCE_METADATA_HOST, or metadata.google.internal),
 *      probed with a one-second connect so that off Google Cloud this step
 *      falls through at once;
 *   4. anonymous (public buckets).
 * The access token is cached and refreshed before it expires (five minutes
 * before, or half its lifetime if shorter), by one thread while the others
 * wait.  Token requests go through the HTTP engine (rmt_http.h).
 *
 * Secrets (private keys, refresh tokens, client secrets, access tokens,
 * assertions) never reach a message; the identity (a service-account email,
 * "metadata server", "anonymous") does.  Thread-safe.
 */
#ifndef RMT_GCS_AUTH_H
#define RMT_GCS_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct ck_buf;
struct http_req;

/*
 * Make sure a token is cached and fresh (looking the credentials up on the
 * first call).  Call before http_run() so that the prepare callback below
 * rarely has a token to fetch.  0, or -EACCES (the token endpoint refused:
 * the message names the identity), -EINVAL (a bad key file), -EIO,
 * -EHOSTUNREACH, -ETIMEDOUT, -ENOMEM.
 */
int gcs_auth_ensure(void);

/*
 * An http_prepare_fn: set "Authorization: Bearer TOKEN" on r (nothing when
 * anonymous).  A cached token still valid is used as it is, even within its
 * refresh margin; an expired one is refreshed here.  ctx is unused.
 * Errors as gcs_auth_ensure().
 */
int gcs_auth_prepare(struct http_req *r, void *ctx);

/* Forget the cached token (after a 401: the next request fetches one). */
void gcs_auth_invalidate(void);

/* The identity used, for messages ("service account 'x@y'", "metadata
 * server '...'", "anonymous", ...; "credentials not yet looked up" before
 * the first request).  Copied into buf (cap bytes); returns buf. */
const char *gcs_auth_identity(char *buf, size_t cap);

/* Forget the credentials and the token, wiping the secrets: the next
 * request looks them up again (tests; nothing may be in flight). */
void gcs_auth_reset(void);

/* Append the base64url (RFC 4648 §5, no padding) of p[0..n) to out.
 * -ENOMEM. */
int gcs_b64url(struct ck_buf *out, const void *p, size_t n);

/*
 * A service-account JWT assertion: header {"alg":"RS256","typ":"JWT"},
 * claims {iss: email, scope: devstorage.read_only, aud, iat, exp: iat +
 * 3600}, signed with the PEM private key.  *out is malloc'd (caller
 * frees).  -EINVAL (a key OpenSSL cannot read or sign with; the message
 * names email, never the key), -ENOMEM.
 */
int gcs_jwt_make(const char *email, const char *aud, const char *pem,
		 int64_t iat, char **out);

#endif
