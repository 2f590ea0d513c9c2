/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one clock of every deadline in the tree: CLOCK_MONOTONIC_COARSE, in milliseconds. Monotonic,
 * so that a wall-clock step (NTP, an RTC set at boot) neither ends a wait early nor makes it
 * endless; coarse, because the C library answers it from the value the kernel keeps at each
 * tick, without a system call, on every machine. CLOCK_MONOTONIC is answered without one only
 * where the clock source can be read from user space (the TSC); where the kernel runs on the
 * HPET or the ACPI PM timer (virtual machines whose TSC the kernel found unstable, as the lab's
 * TCG guest) each reading is a system call and a read of an emulated device, about 0.4 ms in
 * that guest, several per claimed device (docs/PERFORMANCE.md). Every deadline is a second or
 * more (a few hundred milliseconds in the unit tests): a tick (1 to 10 ms) late makes no
 * difference. */

#include <stdint.h>
#include <time.h>

static inline uint64_t vc_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in microseconds, for a duration a program reports about itself (the udev
 * helper's boot pass): a tick is too coarse for that. */
static inline uint64_t vc_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Sleep @us microseconds (a poll interval; a signal may end it early). */
static inline void vc_sleep_us(long us) {
        nanosleep(&(struct timespec){ .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 }, NULL);
}
