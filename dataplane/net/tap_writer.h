/* Sends frames into a net_tap port's kernel end ourselves, one writev per
 * frame of any size up to the tap's MTU.
 *
 * DPDK 22.11's net_tap refuses to send a frame above 1522 bytes (its TX
 * checks the ethdev MTU, which cannot exceed the 1522-byte max_rx_pktlen it
 * reports), while the kernel's tun driver takes a write of up to 64 KB as
 * one packet.  A download through the tap then costs one write and one pass
 * of the kernel's receive path per 64 KB instead of per 1.5 KB, which is
 * what loopback gives a kernel FTPS server.  The writer uses the file
 * descriptor the PMD already holds on the tap's queue (a write on any queue
 * of a tun device injects the frame into the kernel; the PMD keeps reading
 * it as before), so nothing about the device changes.  Frames carry the
 * 4-byte packet-information prefix the PMD opened the device with (net_tap
 * never sets IFF_NO_PI: its own writes and reads carry a struct tun_pi). */
#ifndef FTPS_TAP_WRITER_H
#define FTPS_TAP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

struct tap_writer {
	int fd; /* -1: none; owned by net_tap, never closed here */
};

/* Finds this process's file descriptor on the tun device of kernel
 * interface if_index.  Returns 0, or -1 with the reason in error. */
int tap_writer_find(uint32_t if_index, struct tap_writer *writer, char *error, size_t error_len);

/* Writes each frame (an mbuf chain, checksums complete) to the tap and
 * frees it.  Returns how many the kernel refused (counted by the caller). */
uint16_t tap_writer_send(const struct tap_writer *writer, struct rte_mbuf **frames, uint16_t count);

#endif
