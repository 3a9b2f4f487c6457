/* Dates for RFC 5260: RFC 5322 date-time parsing, zone shifts, and the
 * date parts ("year" ... "weekday") the date/currentdate tests compare. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sieve_int.h"

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
				     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat"};
static const char *const parts[] = {
	"year",	  "month", "day",     "date",  "julian", "hour",   "minute",
	"second", "time",  "iso8601", "std11", "zone",	 "weekday"};

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t to_time(const struct sv_tm *tm)
{
	return days_from_civil(tm->year, tm->mon, tm->day) * 86400 +
	       tm->hour * 3600 + tm->min * 60 + tm->sec - tm->zone * 60;
}

void sv_date_from_time(int64_t t, int zone, struct sv_tm *tm)
{
	/* years 1..9999 keep every date part well-formed */
	if (t < -62135596800LL)
		t = -62135596800LL;
	if (t > 253402300799LL - 200000)
		t = 253402300799LL - 200000;
	int64_t lt = t + (int64_t)zone * 60;
	int64_t days = lt >= 0 ? lt / 86400 : -((-lt + 86399) / 86400);
	int64_t secs = lt - days * 86400;

	civil_from_days(days, &tm->year, &tm->mon, &tm->day);
	tm->hour = (int)(secs / 3600);
	tm->min = (int)(secs / 60 % 60);
	tm->sec = (int)(secs % 60);
	tm->zone = zone;
}

void sv_date_tozone(struct sv_tm *tm, int zone)
{
	sv_date_from_time(to_time(tm), zone, tm);
}

int sv_zone_parse(const char *s, size_t n, int *min_r)
{
	if (n != 5 || (s[0] != '+' && s[0] != '-'))
		return -1;
	for (int i = 1; i < 5; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	int h = (s[1] - '0') * 10 + (s[2] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');

	if (m > 59)
		return -1;
	*min_r = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return 0;
}

static void skip(const char **p, const char *e)
{
	while (*p < e) {
		if (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n') {
			(*p)++;
		} else if (**p == '(') {
			int depth = 0;

			do {
				if (**p == '(')
					depth++;
				else if (**p == ')')
					depth--;
				(*p)++;
			} while (*p < e && depth > 0);
		} else {
			break;
		}
	}
}

static int num(const char **p, const char *e, int maxd, int *v)
{
	int d = 0;

	*v = 0;
	while (*p < e && isdigit((unsigned char)**p) && d < maxd) {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		d++;
	}
	return d;
}

int sv_date_parse(const char *s, size_t n, struct sv_tm *tm)
{
	const char *p = s, *e = s + n;
	int d;

	memset(tm, 0, sizeof(*tm));
	skip(&p, e);
	if (p < e && isalpha((unsigned char)*p)) {
		while (p < e && isalpha((unsigned char)*p))
			p++;
		skip(&p, e);
		if (p < e && *p == ',')
			p++;
		skip(&p, e);
	}
	if (num(&p, e, 2, &tm->day) == 0)
		return -1;
	skip(&p, e);
	if (e - p < 3)
		return -1;
	tm->mon = 0;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(p, months[i], 3) == 0)
			tm->mon = i + 1;
	if (tm->mon == 0)
		return -1;
	p += 3;
	skip(&p, e);
	d = num(&p, e, 4, &tm->year);
	if (d < 2)
		return -1;
	if (d == 2)
		tm->year += tm->year < 50 ? 2000 : 1900;
	else if (d == 3)
		tm->year += 1900;
	skip(&p, e);
	if (num(&p, e, 2, &tm->hour) == 0 || p >= e || *p != ':')
		return -1;
	p++;
	if (num(&p, e, 2, &tm->min) != 2)
		return -1;
	if (p < e && *p == ':') {
		p++;
		if (num(&p, e, 2, &tm->sec) != 2)
			return -1;
	}
	skip(&p, e);
	if (p < e && (*p == '+' || *p == '-')) {
		if (e - p < 5 || sv_zone_parse(p, 5, &tm->zone) < 0)
			return -1;
	} else if (p < e) {
		static const struct {
			const char *n;
			int h;
		} z[] = {{"UT", 0},   {"GMT", 0},  {"Z", 0},	{"EST", -5},
			 {"EDT", -4}, {"CST", -6}, {"CDT", -5}, {"MST", -7},
			 {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
		size_t zl = 0;

		while (p + zl < e && isalpha((unsigned char)p[zl]))
			zl++;
		for (size_t i = 0; i < sizeof(z) / sizeof(*z); i++)
			if (strlen(z[i].n) == zl &&
			    strncasecmp(p, z[i].n, zl) == 0)
				tm->zone = z[i].h * 60;
	}
	if (tm->day < 1 || tm->day > 31 || tm->hour > 23 || tm->min > 59 ||
	    tm->sec > 60)
		return -1;
	return 0;
}

int sv_date_known_part(const char *part)
{
	for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++)
		if (strcasecmp(part, parts[i]) == 0)
			return 1;
	return 0;
}

int sv_date_part(const struct sv_tm *tm, const char *part, char *buf,
		 size_t bufsz)
{
	int z = tm->zone < 0 ? -tm->zone : tm->zone;
	char sign = tm->zone < 0 ? '-' : '+';
	int64_t days = days_from_civil(tm->year, tm->mon, tm->day);
	int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was Thursday */

	if (!strcasecmp(part, "year"))
		snprintf(buf, bufsz, "%04d", tm->year);
	else if (!strcasecmp(part, "month"))
		snprintf(buf, bufsz, "%02d", tm->mon);
	else if (!strcasecmp(part, "day"))
		snprintf(buf, bufsz, "%02d", tm->day);
	else if (!strcasecmp(part, "date"))
		snprintf(buf, bufsz, "%04d-%02d-%02d", tm->year, tm->mon,
			 tm->day);
	else if (!strcasecmp(part, "julian"))
		snprintf(buf, bufsz, "%lld",
			 (long long)(days - days_from_civil(1858, 11, 17)));
	else if (!strcasecmp(part, "hour"))
		snprintf(buf, bufsz, "%02d", tm->hour);
	else if (!strcasecmp(part, "minute"))
		snprintf(buf, bufsz, "%02d", tm->min);
	else if (!strcasecmp(part, "second"))
		snprintf(buf, bufsz, "%02d", tm->sec);
	else if (!strcasecmp(part, "time"))
		snprintf(buf, bufsz, "%02d:%02d:%02d", tm->hour, tm->min,
			 tm->sec);
	else if (!strcasecmp(part, "iso8601"))
		snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
			 tm->year, tm->mon, tm->day, tm->hour, tm->min, tm->sec,
			 sign, z / 60, z % 60);
	else if (!strcasecmp(part, "std11"))
		snprintf(buf, bufsz,
			 "%s, %02d %c%c%c %04d %02d:%02d:%02d %c%02d%02d",
			 wdays[wd], tm->day, months[tm->mon - 1][0] - 32,
			 months[tm->mon - 1][1], months[tm->mon - 1][2],
			 tm->year, tm->hour, tm->min, tm->sec, sign, z / 60,
			 z % 60);
	else if (!strcasecmp(part, "zone"))
		snprintf(buf, bufsz, "%c%02d%02d", sign, z / 60, z % 60);
	else if (!strcasecmp(part, "weekday"))
		snprintf(buf, bufsz, "%d", wd);
	else
		return -1;
	return 0;
}
