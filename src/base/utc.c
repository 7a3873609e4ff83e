#include "base/utc.h"

#include <stdint.h>
#include <string.h>

static const char *const utc_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* n digits at s as a number, or -1. */
static int
utc_digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

static int
utc_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t
utc_days(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;		/* y >= 1969 here: no negative division */
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Checks the fields and makes the epoch; 0 or -1. */
static int
utc_epoch(int y, int mo, int d, int h, int mi, int s, time_t *out)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && utc_leap(y)) || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
		return -1;
	*out = (time_t)(utc_days(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    s);
	return 0;
}

/* "HH:MM:SS" at s into h, mi, sec; 0 or -1. */
static int
utc_clock(const char *s, int *h, int *mi, int *sec)
{
	if (s[2] != ':' || s[5] != ':')
		return -1;
	*h = utc_digits(s, 2);
	*mi = utc_digits(s + 3, 2);
	*sec = utc_digits(s + 6, 2);
	return *h < 0 || *mi < 0 || *sec < 0 ? -1 : 0;
}

/* "2026-12-06T12:00:00Z", "2026-12-06T12:00:00.123Z" */
static int
utc_iso(const char *s, size_t n, time_t *out)
{
	int y, mo, d, h, mi, sec;
	size_t i;

	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[n - 1] != 'Z')
		return -1;
	if ((y = utc_digits(s, 4)) < 0 || (mo = utc_digits(s + 5, 2)) < 0 ||
	    (d = utc_digits(s + 8, 2)) < 0 ||
	    utc_clock(s + 11, &h, &mi, &sec) != 0)
		return -1;
	if (n > 20) {	/* a fraction: ".", 1 to 9 digits, "Z" */
		if (s[19] != '.' || n < 22 || n > 30)
			return -1;
		for (i = 20; i < n - 1; i++)
			if (s[i] < '0' || s[i] > '9')
				return -1;
	}
	return utc_epoch(y, mo, d, h, mi, sec, out);
}

/* "21 Jan 2019 09:00:43 GMT", "1 Feb 2019 09:00:43 GMT" */
static int
utc_gmt(const char *s, size_t n, time_t *out)
{
	int y, mo, d, h, mi, sec, dl;

	if (n < 2)
		return -1;
	dl = s[1] == ' ' ? 1 : 2;	/* digits of the day */
	if (n != (size_t)dl + 22 || (d = utc_digits(s, dl)) < 0 ||
	    s[dl] != ' ' || s[dl + 4] != ' ' || s[dl + 9] != ' ' ||
	    s[dl + 18] != ' ' || strcmp(s + dl + 19, "GMT") != 0)
		return -1;
	for (mo = 0; mo < 12; mo++)
		if (memcmp(s + dl + 1, utc_months[mo], 3) == 0)
			break;
	if (mo == 12 || (y = utc_digits(s + dl + 5, 4)) < 0 ||
	    utc_clock(s + dl + 10, &h, &mi, &sec) != 0)
		return -1;
	return utc_epoch(y, mo + 1, d, h, mi, sec, out);
}

int
utc_parse_iso(const char *s, time_t *out)
{
	return utc_iso(s, strlen(s), out);
}

int
utc_parse(const char *s, time_t *out)
{
	size_t n = strlen(s);

	if (n >= 5 && s[4] == '-')
		return utc_iso(s, n, out);
	return utc_gmt(s, n, out);
}
