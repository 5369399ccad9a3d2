/*
 * cpgbench: the plain-C libcpg reference client of the cpgkit benchmarks and interop tests.
 *
 *   cpgbench bench [--group G] [--count N] [--size BYTES] [--warmup N]
 *       one sender flooding the group: send until CS_ERR_TRY_AGAIN, poll the fd,
 *       cpg_dispatch(CS_DISPATCH_ALL), count our own deliveries, after an untimed round of
 *       --warmup messages (default min(count, 5000)), as cpgkit bench does; prints one JSON line
 *       {"msgsPerSec":..,"mbPerSec":..,"count":..,"size":..,"seconds":..}
 *   cpgbench send GROUP MSG...
 *       join, send each MSG as one CPG message, wait until each came back to us, exit 0
 *   cpgbench listen GROUP COUNT
 *       join, print {"type":"ready",...} once our join is seen, then one JSON line per
 *       message: {"type":"message","sender":{"nodeid":N,"pid":P},"base64":"..."};
 *       exit 0 after COUNT messages (COUNT 0: forever)
 *   cpgbench echo GROUP
 *       join, print {"type":"ready"}, then answer every write message ('W' + seq) another
 *       member sent with an ack ('A' + seq), as a cpgkit replica acks an entry it applied;
 *       runs until killed
 *   cpgbench write GROUP [--rate R] [--count N] [--acks K] [--size BYTES]
 *       the floor of a majority-acknowledged write over CPG, with no cpgkit code: wait until K
 *       other members are in the group, send N write messages at R a second (open loop, each
 *       due at start + i/R), and time each from its due time (or its send, if earlier) until
 *       its own delivery AND K acks from other members have come back: what a cpgkit write
 *       needs before it resolves (applied by a majority: the writer and K = 1 other of 3).
 *       Prints {"type":"ready"} once the K others are there, then one JSON line
 *       {"samples":[ms...],"errors":0,"elapsedMs":..,"cpuMs":..}, and stays until killed
 *
 * Group names are sent as strlen(name) bytes: no trailing NUL (cpgkit's rule too).
 * Test code: compiled by build.sh when the benchmark or the interop tests run.
 */
#define _GNU_SOURCE
#include <corosync/cpg.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static uint32_t local_nodeid;
static uint32_t local_pid;
static int joined_seen;
static unsigned long delivered_own;
static unsigned long delivered_total;
static int print_messages;
static size_t group_members;
/* Called for every delivery after the counters (echo and write modes). */
static void (*on_message)(uint32_t nodeid, uint32_t pid, const unsigned char *msg, size_t len);

static void die(const char *what, cs_error_t err) {
	fprintf(stderr, "cpgbench: %s failed: cs_error_t %d\n", what, (int)err);
	exit(1);
}

/* CPU time (user + system) this process used so far, in seconds. */
static double cpu_s(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_base64(const unsigned char *p, size_t n) {
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
		putchar(tbl[v >> 18]);
		putchar(tbl[(v >> 12) & 63]);
		putchar(tbl[(v >> 6) & 63]);
		putchar(tbl[v & 63]);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		putchar(tbl[v >> 18]);
		putchar(tbl[(v >> 12) & 63]);
		fputs("==", stdout);
	} else if (n - i == 2) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
		putchar(tbl[v >> 18]);
		putchar(tbl[(v >> 12) & 63]);
		putchar(tbl[(v >> 6) & 63]);
		putchar('=');
	}
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg,
		       size_t len) {
	(void)h;
	(void)g;
	delivered_total++;
	if (nodeid == local_nodeid && pid == local_pid) delivered_own++;
	if (on_message) on_message(nodeid, pid, msg, len);
	if (print_messages) {
		printf("{\"type\":\"message\",\"sender\":{\"nodeid\":%u,\"pid\":%u},\"base64\":\"", nodeid, pid);
		put_base64(msg, len);
		printf("\"}\n");
		fflush(stdout);
	}
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *members, size_t n,
		       const struct cpg_address *left, size_t nl, const struct cpg_address *joined, size_t nj) {
	(void)h;
	(void)g;
	(void)left;
	(void)nl;
	(void)joined;
	(void)nj;
	group_members = n;
	for (size_t i = 0; i < n; i++)
		if (members[i].nodeid == local_nodeid && members[i].pid == local_pid) joined_seen = 1;
}

static cpg_model_v1_data_t model = {
	.model = CPG_MODEL_V1,
	.cpg_deliver_fn = on_deliver,
	.cpg_confchg_fn = on_confchg,
	.cpg_totem_confchg_fn = NULL,
	.flags = 0,
};

static cpg_handle_t handle;
static int fd;

static void dispatch_wait(int timeout_ms) {
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0 && errno != EINTR) {
		perror("poll");
		exit(1);
	}
	if (r > 0) {
		cs_error_t e = cpg_dispatch(handle, CS_DISPATCH_ALL);
		if (e != CS_OK) die("cpg_dispatch", e);
	}
}

static void open_and_join(const char *group) {
	struct cpg_name name;
	cs_error_t e;
	size_t len = strlen(group);
	if (len == 0 || len > CPG_MAX_NAME_LENGTH) {
		fprintf(stderr, "cpgbench: group name must be 1..128 bytes\n");
		exit(2);
	}
	/* a daemon that is still forming its membership answers CS_ERR_TRY_AGAIN for a while */
	for (int tries = 0; (e = cpg_model_initialize(&handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL)) ==
				CS_ERR_TRY_AGAIN &&
			    tries < 1000;
	     tries++)
		usleep(10000);
	if (e != CS_OK) die("cpg_model_initialize", e);
	if ((e = cpg_fd_get(handle, &fd)) != CS_OK) die("cpg_fd_get", e);
	if ((e = cpg_local_get(handle, &local_nodeid)) != CS_OK) die("cpg_local_get", e);
	local_pid = (uint32_t)getpid();
	name.length = (uint32_t)len;
	memcpy(name.value, group, len);
	while ((e = cpg_join(handle, &name)) == CS_ERR_TRY_AGAIN) usleep(10000);
	if (e != CS_OK) die("cpg_join", e);
	while (!joined_seen) dispatch_wait(100);
}

static cs_error_t send_one(const void *data, size_t len) {
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	return cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
}

/* Send `count` messages (until TRY_AGAIN, then poll + dispatch) and wait for all of them to come back. */
static void flood(const unsigned char *buf, size_t size, unsigned long count) {
	unsigned long sent = 0;
	delivered_own = 0;
	while (delivered_own < count) {
		while (sent < count) {
			cs_error_t e = send_one(buf, size);
			if (e == CS_ERR_TRY_AGAIN) break;
			if (e != CS_OK) die("cpg_mcast_joined", e);
			sent++;
		}
		dispatch_wait(sent < count ? 1 : 100);
	}
}

static int cmd_bench(int argc, char **argv) {
	const char *group = "cpgkit-bench-c";
	unsigned long count = 20000;
	long warmup = -1;
	size_t size = 64;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
		else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "cpgbench bench: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	unsigned char *buf = calloc(1, size ? size : 1);
	memset(buf, 'x', size);
	open_and_join(group);
	if (warmup < 0) warmup = count < 5000 ? (long)count : 5000;
	if (warmup > 0) flood(buf, size, (unsigned long)warmup);
	double t0 = now_s();
	double c0 = cpu_s();
	flood(buf, size, count);
	double cpu = cpu_s() - c0;
	double secs = now_s() - t0;
	printf("{\"msgsPerSec\":%.1f,\"mbPerSec\":%.3f,\"count\":%lu,\"size\":%zu,\"seconds\":%.4f,\"cpuUsPerMsg\":%.3f,\"mode\":\"c\"}\n",
	       (double)count / secs, (double)count * (double)size / secs / 1e6, count, size, secs, cpu * 1e6 / (double)count);
	cpg_finalize(handle);
	return 0;
}

static int cmd_send(int argc, char **argv) {
	if (argc < 1) {
		fprintf(stderr, "usage: cpgbench send GROUP MSG...\n");
		return 2;
	}
	open_and_join(argv[0]);
	delivered_own = 0;
	for (int i = 1; i < argc; i++) {
		cs_error_t e;
		while ((e = send_one(argv[i], strlen(argv[i]))) == CS_ERR_TRY_AGAIN) dispatch_wait(10);
		if (e != CS_OK) die("cpg_mcast_joined", e);
	}
	while (delivered_own < (unsigned long)(argc - 1)) dispatch_wait(100);
	cpg_finalize(handle);
	return 0;
}

static int cmd_listen(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: cpgbench listen GROUP COUNT\n");
		return 2;
	}
	unsigned long count = strtoul(argv[1], NULL, 10);
	open_and_join(argv[0]);
	printf("{\"type\":\"ready\",\"self\":{\"nodeid\":%u,\"pid\":%u}}\n", local_nodeid, local_pid);
	fflush(stdout);
	print_messages = 1;
	delivered_total = 0;
	while (count == 0 || delivered_total < count) dispatch_wait(1000);
	cpg_finalize(handle);
	return 0;
}

/* echo mode: the highest write sequence number delivered since the last ack (-1: none). */
static long echo_pending = -1;

static void echo_message(uint32_t nodeid, uint32_t pid, const unsigned char *msg, size_t len) {
	uint32_t seq;
	if (len < 5 || msg[0] != 'W' || (nodeid == local_nodeid && pid == local_pid)) return;
	memcpy(&seq, msg + 1, 4);
	if ((long)seq > echo_pending) echo_pending = seq;
}

/* One cumulative ack for every write delivered in the last dispatch (a replica acks its
 * applied index once per turn); kept for the next round on CS_ERR_TRY_AGAIN. */
static void echo_ack(void) {
	unsigned char ack[5] = {'A'};
	uint32_t seq;
	cs_error_t e;
	if (echo_pending < 0) return;
	seq = (uint32_t)echo_pending;
	memcpy(ack + 1, &seq, 4);
	e = send_one(ack, sizeof ack);
	if (e == CS_ERR_TRY_AGAIN) return;
	if (e != CS_OK) die("cpg_mcast_joined", e);
	echo_pending = -1;
}

static int cmd_echo(int argc, char **argv) {
	if (argc < 1) {
		fprintf(stderr, "usage: cpgbench echo GROUP\n");
		return 2;
	}
	open_and_join(argv[0]);
	on_message = echo_message;
	printf("{\"type\":\"ready\",\"self\":{\"nodeid\":%u,\"pid\":%u}}\n", local_nodeid, local_pid);
	fflush(stdout);
	for (;;) {
		dispatch_wait(echo_pending >= 0 ? 1 : 1000);
		echo_ack();
	}
}

/* write mode's state */
static unsigned long w_count;
static unsigned char *w_own;     /* [seq]: our own write came back */
static double *w_due;            /* [seq]: due time, s */
static double *w_done;           /* [seq]: resolved, s */
static unsigned long w_next;     /* the first write not resolved yet (they resolve in order) */
static unsigned w_need;          /* acks from other members a write needs */
static struct {
	uint32_t nodeid, pid;
	long upto; /* the highest write this member acked (acks are cumulative) */
} w_peers[32];
static size_t w_npeers;

static void write_resolve(void) {
	while (w_next < w_count && w_own[w_next]) {
		unsigned k = 0;
		for (size_t j = 0; j < w_npeers; j++)
			if (w_peers[j].upto >= (long)w_next) k++;
		if (k < w_need) break;
		w_done[w_next++] = now_s();
	}
}

static void write_message(uint32_t nodeid, uint32_t pid, const unsigned char *msg, size_t len) {
	uint32_t seq;
	int self = nodeid == local_nodeid && pid == local_pid;
	if (len < 5) return;
	memcpy(&seq, msg + 1, 4);
	if (seq >= w_count) return;
	if (msg[0] == 'W' && self) {
		w_own[seq] = 1;
	} else if (msg[0] == 'A' && !self) {
		size_t j;
		for (j = 0; j < w_npeers; j++)
			if (w_peers[j].nodeid == nodeid && w_peers[j].pid == pid) break;
		if (j == w_npeers) {
			if (w_npeers == sizeof w_peers / sizeof w_peers[0]) return;
			w_peers[w_npeers].nodeid = nodeid;
			w_peers[w_npeers].pid = pid;
			w_peers[w_npeers++].upto = -1;
		}
		if ((long)seq > w_peers[j].upto) w_peers[j].upto = seq;
	} else {
		return;
	}
	write_resolve();
}

/* Poll the fd until `deadline` (s, monotonic) at most, dispatching what is there. */
static void dispatch_until(double deadline) {
	double left = deadline - now_s();
	struct timespec ts;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	if (left < 0) left = 0;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	r = ppoll(&p, 1, &ts, NULL);
	if (r < 0 && errno != EINTR) {
		perror("ppoll");
		exit(1);
	}
	if (r > 0) {
		cs_error_t e = cpg_dispatch(handle, CS_DISPATCH_ALL);
		if (e != CS_OK) die("cpg_dispatch", e);
	}
}

static int cmd_write(int argc, char **argv) {
	double rate = 300;
	size_t size = 64;
	unsigned long sent = 0;
	unsigned char *buf;
	double start, interval, c0, last_progress;
	unsigned long progress_at = 0;
	if (argc < 1) {
		fprintf(stderr, "usage: cpgbench write GROUP [--rate R] [--count N] [--acks K] [--size BYTES]\n");
		return 2;
	}
	w_count = 3000;
	w_need = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc) w_count = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--acks") && i + 1 < argc) w_need = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "cpgbench write: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (rate <= 0 || w_count == 0 || size < 5) {
		fprintf(stderr, "cpgbench write: --rate > 0, --count > 0 and --size >= 5 wanted\n");
		return 2;
	}
	w_own = calloc(w_count, 1);
	w_due = calloc(w_count, sizeof *w_due);
	w_done = calloc(w_count, sizeof *w_done);
	buf = calloc(1, size);
	if (!w_own || !w_due || !w_done || !buf) {
		perror("calloc");
		return 1;
	}
	memset(buf, 'x', size);
	buf[0] = 'W';
	open_and_join(argv[0]);
	on_message = write_message;
	while (group_members < 1 + (size_t)w_need) dispatch_wait(100);
	printf("{\"type\":\"ready\",\"self\":{\"nodeid\":%u,\"pid\":%u}}\n", local_nodeid, local_pid);
	fflush(stdout);
	interval = 1.0 / rate;
	start = now_s() + 0.005;
	c0 = cpu_s();
	last_progress = start;
	while (w_next < w_count) {
		double now = now_s();
		while (sent < w_count && start + (double)sent * interval <= now) {
			uint32_t seq = (uint32_t)sent;
			cs_error_t e;
			memcpy(buf + 1, &seq, 4);
			e = send_one(buf, size);
			if (e == CS_ERR_TRY_AGAIN) break;
			if (e != CS_OK) die("cpg_mcast_joined", e);
			w_due[sent] = start + (double)sent * interval;
			sent++;
		}
		if (w_next != progress_at) {
			progress_at = w_next;
			last_progress = now;
		} else if (now - last_progress > 30) {
			fprintf(stderr, "cpgbench write: no write resolved for 30 s (%lu of %lu)\n", w_next, w_count);
			return 1;
		}
		dispatch_until(sent < w_count ? start + (double)sent * interval : now + 0.1);
	}
	printf("{\"samples\":[");
	for (unsigned long i = 0; i < w_count; i++) printf("%s%.4f", i ? "," : "", (w_done[i] - w_due[i]) * 1e3);
	printf("],\"errors\":0,\"elapsedMs\":%.1f,\"cpuMs\":%.1f}\n", (now_s() - start) * 1e3, (cpu_s() - c0) * 1e3);
	fflush(stdout);
	/* stay (in the group, idle) until killed, so that whoever reads our CPU from /proc can */
	for (;;) dispatch_wait(1000);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "bench")) return cmd_bench(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "send")) return cmd_send(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "listen")) return cmd_listen(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "echo")) return cmd_echo(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "write")) return cmd_write(argc - 2, argv + 2);
	fprintf(stderr, "usage: cpgbench bench [--group G] [--count N] [--size BYTES]\n"
			"       cpgbench send GROUP MSG...\n"
			"       cpgbench listen GROUP COUNT\n"
			"       cpgbench echo GROUP\n"
			"       cpgbench write GROUP [--rate R] [--count N] [--acks K] [--size BYTES]\n");
	return 2;
}
