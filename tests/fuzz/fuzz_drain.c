/*
 * fuzz_drain: /proc/net/tcp{,6} text, sock_diag datagrams and [drain]
 * ports (drain.h).  Input: ports list, NUL, then the file text fed in
 * chunks of the first byte's size; the same bytes are also one sock_diag
 * datagram (in the sequence of its first header).  Asserts drain.h's
 * rules: ports in 1..65535, at most the cap; a parsed socket line has
 * 16-bit ports; a count never exceeds the lines; chunking does not change
 * the count; a datagram is taken or refused (ST_OSERR), never counts more
 * sockets than it holds, and an error reply ends the dump.
 */
#include "fuzz.h"

#include "checks/drain.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t ports[DRAIN_MAX_PORTS];
	struct drain_scan a, b;
	struct drain_diag d;
	struct drain_sock s;
	struct status st;
	struct fz f;
	char *list, *text;
	size_t n = 0, len, i, chunk, start, nl;
	int rca, rcb = ST_OK, rcd;

	fz_init(&f, data, size);
	chunk = 1 + fz_byte(&f);
	list = fz_field(&f);
	text = fz_rest(&f, &len);
	if (drain_ports_parse(list, ports, &n, DRAIN_MAX_PORTS, &st) ==
	    ST_OK) {
		FZ_ASSERT(n >= 1 && n <= DRAIN_MAX_PORTS);
		for (i = 0; i < n; i++)
			FZ_ASSERT(ports[i] >= 1);
	} else {
		FZ_ASSERT(st.code == ST_CONFIG && fz_printable(st.msg));
		ports[0] = 80;
		n = 1;
	}
	if (drain_parse_line(text, len, &s) == 0)
		FZ_ASSERT(s.lport <= 65535 && s.rport <= 65535);

	memset(&a, 0, sizeof(a));
	a.ports = ports;
	a.nports = n;
	b = a;
	rca = drain_scan_lines(&a, text, len, &st);
	FZ_ASSERT(rca == ST_OK || rca == ST_OSERR);
	if (rca == ST_OK)
		FZ_ASSERT(a.count <= a.lines);
	/* the same text in whole lines of about `chunk` bytes */
	for (start = 0; start < len && rcb == ST_OK; start = nl) {
		nl = start + chunk < len ? start + chunk : len;
		while (nl < len && text[nl - 1] != '\n')
			nl++;
		rcb = drain_scan_lines(&b, text + start, nl - start, &st);
	}
	if (rca == ST_OK && rcb == ST_OK)
		FZ_ASSERT(a.count == b.count && a.lines == b.lines);

	memset(&d, 0, sizeof(d));
	d.ports = ports;
	d.nports = n;
	if (len >= 12)
		memcpy(&d.seq, text + 8, sizeof(d.seq));
	rcd = drain_diag_feed(&d, text, len, &st);
	FZ_ASSERT(rcd == ST_OK || (rcd == ST_OSERR && fz_printable(st.msg)));
	FZ_ASSERT(d.ncookies <= d.msgs && d.msgs <= len / 16);
	FZ_ASSERT(drain_diag_distinct(&d) <= d.ncookies);
	FZ_ASSERT(d.error == 0 || d.done);
	free(d.cookies);
	fz_free(&f);
	return 0;
}
