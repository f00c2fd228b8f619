/* test_queue.c - the NFQUEUE message parser (capture_queue_parse), on
 * netlink messages built here with libmnl as the kernel lays them out:
 * packets with and without payload, several messages in one datagram,
 * acknowledgements and errors of our requests, and damaged messages,
 * which are counted as unreadable and never read past their end. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "dsmflow/capture.h"
#include "dsmflow/decode.h"
#include "guard.h"

static unsigned char buf[8192];

/* A packet message for id with payload (NULL: none) at buf + at; returns
 * its aligned length. */
static size_t put_packet(size_t at, uint32_t id, const void *payload, uint16_t len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + at);
	struct nfgenmsg *g;
	struct nfqnl_msg_packet_hdr ph = { htonl(id), htons(0x0800), 1 };

	nlh->nlmsg_type = NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(7);
	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	if (payload)
		mnl_attr_put(nlh, NFQA_PAYLOAD, len, payload);
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

static size_t put_ack(size_t at, uint32_t seq, int error)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + at);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -error;
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* An IPv4 header of total length 1500, cut to 20 bytes by the copy range. */
static const unsigned char ipv4[20] = { 0x45, 0, 0x05, 0xdc, 0, 0, 0, 0, 64, 6, 0, 0,
					10, 0, 0, 1, 10, 0, 0, 2 };

static void test_one_packet(void **state)
{
	struct packet pkts[4];
	struct queue_parse out;
	size_t len = put_packet(0, 42, ipv4, sizeof(ipv4));

	(void)state;
	capture_queue_parse(buf, len, 1234, pkts, 4, &out);
	assert_int_equal(out.packets, 1);
	assert_int_equal(out.ids, 1);
	assert_int_equal(out.last_id, 42);
	assert_int_equal(out.unreadable, 0);
	assert_int_equal(out.acks, 0);
	assert_int_equal(pkts[0].caplen, 20);
	assert_int_equal(pkts[0].wire_len, 1500);	/* the IP length, not the copy */
	assert_int_equal(pkts[0].link, DECODE_LINK_IP);
	assert_int_equal(pkts[0].ts_us, 1234);
	assert_memory_equal(pkts[0].data, ipv4, sizeof(ipv4));
	assert_true(pkts[0].data >= buf && pkts[0].data + pkts[0].caplen <= buf + len);
}

static void test_several_messages_and_no_payload(void **state)
{
	struct packet pkts[4];
	struct queue_parse out;
	size_t len = put_packet(0, 7, ipv4, sizeof(ipv4));

	(void)state;
	len += put_packet(len, 8, NULL, 0);	/* copy range 0: the id alone */
	len += put_packet(len, 9, ipv4, 4);
	capture_queue_parse(buf, len, 0, pkts, 4, &out);
	assert_int_equal(out.packets, 3);
	assert_int_equal(out.last_id, 9);
	assert_int_equal(pkts[1].caplen, 0);
	assert_int_equal(pkts[1].wire_len, 0);
	assert_int_equal(pkts[2].caplen, 4);
	assert_int_equal(pkts[2].wire_len, 1500);
	/* more packets than room: counted unreadable, the id still seen */
	capture_queue_parse(buf, len, 0, pkts, 2, &out);
	assert_int_equal(out.packets, 2);
	assert_int_equal(out.unreadable, 1);
	assert_int_equal(out.last_id, 9);
}

static void test_acknowledgements_and_errors(void **state)
{
	struct packet pkts[4];
	struct queue_parse out;
	size_t len = put_ack(0, 1, 0);

	(void)state;
	len += put_ack(len, 2, 0);
	capture_queue_parse(buf, len, 0, pkts, 4, &out);
	assert_int_equal(out.acks, 2);
	assert_int_equal(out.acked_seq, 2);
	assert_int_equal(out.error, 0);
	assert_int_equal(out.packets, 0);
	len = put_ack(0, 4, EOPNOTSUPP);
	capture_queue_parse(buf, len, 0, pkts, 4, &out);
	assert_int_equal(out.acks, 1);
	assert_int_equal(out.error, EOPNOTSUPP);
	assert_int_equal(out.error_seq, 4);
}

static void test_damaged_messages(void **state)
{
	struct packet pkts[4];
	struct queue_parse out;
	size_t len = put_packet(0, 5, ipv4, sizeof(ipv4));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

	(void)state;
	/* cut anywhere, flush against a guard page: never a read or a packet
	 * past the cut */
	for (size_t cut = 0; cut < len; cut++) {
		const uint8_t *placed = guard_place(buf, cut);

		capture_queue_parse(placed, cut, 0, pkts, 4, &out);
		for (size_t i = 0; i < out.packets; i++)
			assert_true(pkts[i].caplen == 0 || pkts[i].data + pkts[i].caplen <= guard_end());
		assert_true(out.packets + (size_t)out.unreadable >= 1 || cut == 0);
	}
	/* a message claiming more than the datagram holds */
	nlh->nlmsg_len = (uint32_t)len + 64;
	capture_queue_parse(buf, len, 0, pkts, 4, &out);
	assert_int_equal(out.packets, 0);
	assert_int_equal(out.unreadable, 1);
	/* an attribute claiming more than its message holds */
	len = put_packet(0, 6, ipv4, sizeof(ipv4));
	((struct nlattr *)(buf + len - (sizeof(struct nlattr) + sizeof(ipv4))))->nla_len = 200;	/* the payload's */
	capture_queue_parse(buf, len, 0, pkts, 4, &out);
	assert_int_equal(out.packets, 1);	/* its id read; the payload not taken */
	assert_int_equal(out.last_id, 6);
	assert_int_equal(pkts[0].caplen, 0);
	/* a message whose padding is cut (its last attribute reaches into it):
	 * unreadable, never a packet past the datagram (found by fuzz_nfq) */
	len = put_packet(0, 7, ipv4, 4);
	((struct nlmsghdr *)buf)->nlmsg_len = (uint32_t)len - 1;	/* the payload 1 byte past it */
	{
		const uint8_t *placed = guard_place(buf, len - 1);

		capture_queue_parse(placed, len - 1, 0, pkts, 4, &out);
		assert_int_equal(out.packets, 0);
		assert_int_equal(out.unreadable, 1);
	}
	/* a packet message without its header attribute */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	mnl_attr_put(nlh, NFQA_PAYLOAD, sizeof(ipv4), ipv4);
	capture_queue_parse(buf, nlh->nlmsg_len, 0, pkts, 4, &out);
	assert_int_equal(out.packets, 0);
	assert_int_equal(out.ids, 0);
	assert_int_equal(out.unreadable, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_packet),
		cmocka_unit_test(test_several_messages_and_no_payload),
		cmocka_unit_test(test_acknowledgements_and_errors),
		cmocka_unit_test(test_damaged_messages),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
