/*
 * rm_test_dnsd --zone FILE: the test DNS server (dnsd.h) for Python and
 * shell tests.  Binds 127.0.0.1 on an ephemeral port (UDP and TCP, the
 * same number), prints the port on stdout, serves until stdin closes or
 * a signal ends it.  Each line read on stdin that names a file reloads
 * the zone from it and answers "ok" or "error: ..." on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsd.h"

int main(int argc, char **argv)
{
	const char *zone = NULL;
	char err[256], line[4096];
	struct rm_dnsd *d;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--zone") == 0 && i + 1 < argc) {
			zone = argv[++i];
		} else {
			fprintf(stderr, "usage: rm_test_dnsd --zone FILE\n");
			return 2;
		}
	}
	d = zone ? rm_dnsd_start_file(zone, err, sizeof(err))
		 : rm_dnsd_start(NULL, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "rm_test_dnsd: %s\n", err);
		return 1;
	}
	printf("%u\n", rm_dnsd_port(d));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		FILE *f;
		char *text;
		long n;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		f = fopen(line, "rb");
		if (f == NULL || fseek(f, 0, SEEK_END) < 0 ||
		    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
			printf("error: cannot read %s\n", line);
			if (f)
				fclose(f);
			fflush(stdout);
			continue;
		}
		text = calloc(1, (size_t)n + 1);
		if (fread(text, 1, (size_t)n, f) != (size_t)n)
			text[0] = '\0';
		fclose(f);
		if (rm_dnsd_load(d, text, err, sizeof(err)) == 0)
			printf("ok\n");
		else
			printf("error: %s\n", err);
		free(text);
		fflush(stdout);
	}
	rm_dnsd_stop(d);
	return 0;
}
