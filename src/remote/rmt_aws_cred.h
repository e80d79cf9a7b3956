/* SPDX-License-Identifier: MIT */
/*
 * rmt_aws_cred.h - where S3 requests go and who signs them (private to
 * src/remote/): credentials, region and endpoint, found the way the AWS
 * CLI finds them.
 *
 * Credentials, the first found:
 *   1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN with
 *      them, if set);
 *   2. the profile AWS_PROFILE (else "default") of the shared credentials
 *      file, AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, then of the
 *      config file, AWS_CONFIG_FILE or ~/.aws/config ("[profile NAME]",
 *      "[default]"): aws_access_key_id, aws_secret_access_key,
 *      aws_session_token;
 *   3. none: requests go unsigned (public buckets).
 * Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's "region" in the
 * config file, else us-east-1.
 * Endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (an S3-compatible
 * server, addressed path-style: ENDPOINT/BUCKET/KEY); else AWS itself.
 *
 * An empty variable counts as unset.  Not read: credential_process, SSO,
 * web identity, instance metadata.
 */
#ifndef RMT_AWS_CRED_H
#define RMT_AWS_CRED_H

#include <stddef.h>

struct aws_cred {
	char *key_id;	/* owned: the access key ID; NULL: anonymous */
	char *secret;	/* owned: the secret access key (NULL iff key_id
			   is); never printed */
	char *token;	/* owned: the session token, or NULL; never
			   printed */
	char *region;	/* owned: never NULL once loaded */
	char *endpoint;	/* owned: "http[s]://host[:port][/path]" without
			   a trailing '/'; NULL: AWS */
	const char *from; /* static: where the credentials came from, for
			   messages: "environment", "credentials file",
			   "config file" or "none" */
};

#define AWS_CRED_INIT { NULL, NULL, NULL, NULL, NULL, "none" }

/*
 * Fill c from the environment and the files above (c is overwritten: start
 * from AWS_CRED_INIT or a released one).  -EINVAL with a message (a key ID
 * without its secret, AWS_PROFILE naming a profile in neither file, an
 * endpoint that is not http(s)://), -EIO (a file unreadable), -ENOMEM.
 * Reads the environment: not thread-safe against setenv().
 */
int aws_cred_load(struct aws_cred *c);

/* Free what c owns (wiping the secret and token) and reset it; NULL ok. */
void aws_cred_release(struct aws_cred *c);

/*
 * The value of key in section [section] of the INI text[0..len) (AWS
 * shared file syntax: "key = value" lines, '#' and ';' comments, names
 * compared exactly after trimming), as a new string in *value (caller
 * frees).  1 found, 0 not found (*value NULL), -ENOMEM.
 */
int aws_ini_get(const char *text, size_t len, const char *section,
		const char *key, char **value);

/* 1 if the INI text has section [section], else 0. */
int aws_ini_has_section(const char *text, size_t len, const char *section);

#endif
