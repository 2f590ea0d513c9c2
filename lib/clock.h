/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one clock of every deadline in the tree: CLOCK_MONOTONIC, in milliseconds, so that a
 * wall-clock step (NTP, an RTC set at boot) neither ends a wait early nor makes it endless. */

#include <stdint.h>
#include <time.h>

static inline uint64_t vc_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* The same clock in microseconds, for a duration a program reports about itself. */
static inline uint64_t vc_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Sleep @us microseconds (a poll interval; a signal may end it early). */
static inline void vc_sleep_us(long us) {
        nanosleep(&(struct timespec){ .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 }, NULL);
}
