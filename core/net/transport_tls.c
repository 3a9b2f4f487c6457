/*
 * The TLS transport.  OpenSSL may need to write while we read (and the
 * reverse); the want flags let conn.c arm the right libev events.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn_int.h"

int rm_tls_attach(struct rmail_conn *c)
{
	SSL_CTX *ctx = rm_tls_server_ctx();
	SSL *ssl;

	if (ctx == NULL) {
		rm_conn_log(c, RMAIL_LOG_ERR,
			    "TLS requested but no "
			    "certificate is loaded");
		return -1;
	}
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(ssl);
	c->ssl = ssl;
	c->tr = &rm_transport_tls;
	c->tls_read_wants_write = c->tls_write_wants_read = false;
	return 0;
}

static void log_ssl_error(struct rmail_conn *c, const char *what, int e)
{
	unsigned long code = ERR_get_error();
	char buf[160];

	if (code != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s",
			 e == SSL_ERROR_SYSCALL && errno ? strerror(errno)
							 : "connection closed");
	ERR_clear_error();
	rm_conn_log(c, RMAIL_LOG_INFO, "TLS %s failed: %s", what, buf);
}

int rm_tls_handshake(struct rmail_conn *c)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->hs_want = 0;
		snprintf(c->tls_info, sizeof(c->tls_info), "%s %s",
			 SSL_get_version(c->ssl),
			 SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
		return 1;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		c->hs_want = EV_READ;
		return RMAIL_AGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		c->hs_want = EV_WRITE;
		return RMAIL_AGAIN;
	}
	log_ssl_error(c, "handshake", e);
	return RMAIL_ERROR;
}

bool rm_tls_has_pending(struct rmail_conn *c)
{
	return c->ssl != NULL && SSL_has_pending(c->ssl);
}

static ssize_t tls_recv(struct rmail_conn *c, void *buf, size_t n)
{
	int r, e;

	ERR_clear_error();
	c->tls_read_wants_write = false;
	r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return RMAIL_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->tls_read_wants_write = true;
		return RMAIL_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			ERR_clear_error();
			return 0; /* EOF without close_notify */
		}
		/* fall through */
	default:
		/* OpenSSL 3 reports a peer that just closes the socket
		 * without close_notify as an error; most clients do that,
		 * so it is no event: an EOF, noted at debug */
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			rm_conn_log(c, RMAIL_LOG_DEBUG,
				    "TLS closed without close_notify");
			return 0;
		}
		log_ssl_error(c, "read", e);
		return RMAIL_ERROR;
	}
}

static ssize_t tls_send(struct rmail_conn *c, const void *buf, size_t n)
{
	int r, e;

	ERR_clear_error();
	c->tls_write_wants_read = false;
	r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_WRITE:
		return RMAIL_AGAIN;
	case SSL_ERROR_WANT_READ:
		c->tls_write_wants_read = true;
		return RMAIL_AGAIN;
	default:
		log_ssl_error(c, "write", e);
		return RMAIL_ERROR;
	}
}

static void tls_shutdown(struct rmail_conn *c)
{
	/* one close_notify, best effort: we never wait for the reply */
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
}

void rm_tls_free(struct rmail_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}

const struct rm_transport rm_transport_tls = {
	.name = "tls",
	.recv = tls_recv,
	.send = tls_send,
	.shutdown = tls_shutdown,
};
