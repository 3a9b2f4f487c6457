/*
 * The message file-name grammar of docs/storage.md, header-only so that
 * the check op (check.c) and the unit tests parse exactly what the
 * module writes:
 *
 *   {uid},{size},{date},{modseq},{flags}.eml
 *                                flags = [D][F][R][S][T][k<hex>]
 *
 * (format 1 had no modseq field: ss_fname_parse_v1 reads those names
 * for the migration and nothing else).
 *
 * Pure functions: no I/O, no allocation.
 */
#ifndef SS_FNAME_H
#define SS_FNAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SS_SHARD_BITS 14u /* 16384 UIDs per shard */
#define SS_FNAME_MAX 128

/* The system flags in file-name order; bits as enum rmail_flag. */
static const struct {
	char c;
	uint32_t bit;
} ss_fname_flags[] = {
	{'D', 1u << 4}, /* Draft */
	{'F', 1u << 2}, /* Flagged */
	{'R', 1u << 1}, /* Answered */
	{'S', 1u << 0}, /* Seen */
	{'T', 1u << 3}, /* Deleted */
};

struct ss_fname {
	uint32_t uid;
	uint32_t flags;
	uint64_t keywords;
	uint64_t size;
	int64_t date;
	uint64_t modseq;
};

static inline uint32_t ss_shard_of(uint32_t uid)
{
	return uid >> SS_SHARD_BITS;
}

/* Parse a decimal without leading zeros up to `sep`; 0 or -1. */
static inline int ss_fname_num(const char **p, const char *end, char sep,
			       uint64_t max, uint64_t *v_r)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	if (*s == '0' && s + 1 < end && s[1] != sep)
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s >= end || *s != sep)
		return -1;
	*p = s + 1;
	*v_r = v;
	return 0;
}

static inline int ss_fname_parse_any(const char *name, size_t len,
				     struct ss_fname *f_r, int with_modseq)
{
	const char *p = name, *end;
	uint64_t v;
	size_t fi = 0;

	if (len < 10 || len > SS_FNAME_MAX ||
	    memcmp(name + len - 4, ".eml", 4) != 0)
		return -1;
	end = name + len - 4;
	if (ss_fname_num(&p, end, ',', UINT32_MAX, &v) < 0 || v == 0)
		return -1;
	f_r->uid = (uint32_t)v;
	if (ss_fname_num(&p, end, ',', UINT64_MAX, &f_r->size) < 0)
		return -1;
	if (ss_fname_num(&p, end, ',', INT64_MAX, &v) < 0)
		return -1;
	f_r->date = (int64_t)v;
	f_r->modseq = 0;
	if (with_modseq &&
	    (ss_fname_num(&p, end, ',', INT64_MAX, &f_r->modseq) < 0 ||
	     f_r->modseq == 0))
		return -1;
	f_r->flags = 0;
	f_r->keywords = 0;
	for (; p < end && *p != 'k'; p++) {
		for (; fi < 5 && ss_fname_flags[fi].c != *p; fi++)
			;
		if (fi == 5)
			return -1;
		f_r->flags |= ss_fname_flags[fi++].bit;
	}
	if (p == end)
		return 0;
	p++;
	if (p == end || *p == '0' || end - p > 16)
		return -1;
	for (; p < end; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			return -1;
		f_r->keywords = (f_r->keywords << 4) | (uint64_t)d;
	}
	return 0;
}

/* Strict parse of a name of `len` bytes (need not be NUL-terminated);
 * the modseq is never 0. */
static inline int ss_fname_parse(const char *name, size_t len,
				 struct ss_fname *f_r)
{
	return ss_fname_parse_any(name, len, f_r, 1);
}

/* A format-1 name (no modseq field; modseq reads as 0). */
static inline int ss_fname_parse_v1(const char *name, size_t len,
				    struct ss_fname *f_r)
{
	return ss_fname_parse_any(name, len, f_r, 0);
}

static inline size_t ss_fname_flagstr(const struct ss_fname *f, char fl[32])
{
	size_t n = 0, i;

	for (i = 0; i < 5; i++)
		if (f->flags & ss_fname_flags[i].bit)
			fl[n++] = ss_fname_flags[i].c;
	if (f->keywords != 0)
		n += (size_t)snprintf(fl + n, 32 - n, "k%llx",
				      (unsigned long long)f->keywords);
	fl[n] = '\0';
	return n;
}

/* Write the canonical name; returns its length (< SS_FNAME_MAX).  A
 * modseq of 0 is a bug of the caller: the name would not parse. */
static inline size_t ss_fname_format(const struct ss_fname *f, char *out)
{
	char fl[32];
	int64_t date = f->date < 0 ? 0 : f->date;

	ss_fname_flagstr(f, fl);
	return (size_t)snprintf(out, SS_FNAME_MAX, "%u,%llu,%lld,%llu,%s.eml",
				f->uid, (unsigned long long)f->size,
				(long long)date, (unsigned long long)f->modseq,
				fl);
}

/* The format-1 name of the same state (migration tests, fixtures). */
static inline size_t ss_fname_format_v1(const struct ss_fname *f, char *out)
{
	char fl[32];
	int64_t date = f->date < 0 ? 0 : f->date;

	ss_fname_flagstr(f, fl);
	return (size_t)snprintf(out, SS_FNAME_MAX, "%u,%llu,%lld,%s.eml",
				f->uid, (unsigned long long)f->size,
				(long long)date, fl);
}

/* "s{N}" shard directory names; -1 when not one. */
static inline int64_t ss_shard_parse(const char *name)
{
	uint64_t v;
	const char *p = name + 1;
	size_t len = strlen(name);

	if (name[0] != 's' || len < 2 || len > 7)
		return -1;
	if (ss_fname_num(&p, name + len + 1, '\0', 1u << 18, &v) < 0)
		return -1;
	return (int64_t)v;
}

#endif
