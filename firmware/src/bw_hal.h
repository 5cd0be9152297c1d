/* The hardware layer the core calls: one file implements it per MCU (hal_avr.c for the
 * ATmega328P; the unit tests have their own). */
#ifndef BW_HAL_H
#define BW_HAL_H

#include <stdbool.h>
#include <stdint.h>

/* Room left in the transmit buffer, and a write that must fit in it. */
uint16_t bw_hal_tx_free(void);
void bw_hal_tx_write(const char *p, uint8_t n);
/* The Pi's supply switch and the optional ignition input. */
void bw_hal_pi_power(bool on);
bool bw_hal_ignition(void);
/* Keep the sampling interrupt out while the main loop reads or changes what it shares. */
uint8_t bw_hal_lock(void);
void bw_hal_unlock(uint8_t saved);

#endif
