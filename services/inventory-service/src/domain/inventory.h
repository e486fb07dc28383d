/* inventory.h -- the rules of stock and reservations. Pure C, no I/O.
 *
 * A reservation is keyed by its order: it is RESERVED (holds stock),
 * RELEASED (gave it back, or a tombstone recorded before anything was
 * reserved, so a late request never reserves) or FAILED (a request that
 * could not be met; kept so a repeated request gets the same answer).
 * Reserving is all or none over the order's lines. */
#ifndef INVENTORY_DOMAIN_H
#define INVENTORY_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"

#define INVENTORY_ID_MAX 64
#define INVENTORY_NAME_MAX 200
#define INVENTORY_STOCK_MAX 1000000000LL
#define INVENTORY_QUANTITY_MAX 1000000000LL
#define INVENTORY_TOTAL_MAX 1000000000000000LL /* 10^15 units of one product */
#define INVENTORY_LINES_MAX 100
#define INVENTORY_REASON_MAX 256
#define INVENTORY_PRICE_MAX_CENTS 100000000LL /* 1,000,000.00: SPEC 2's bound of a unit_price */
#define INVENTORY_NO_PRICE (-1)               /* a product made before prices: not orderable */

typedef struct product {
    const char *product_id;
    const char *name;
    int64_t stock;         /* what can still be reserved */
    int64_t reserved;      /* units held by RESERVED reservations */
    int64_t price_cents;   /* the catalog price (SPEC 7); INVENTORY_NO_PRICE when none */
    int64_t price_version; /* grows with every price change (1 for the first) */
} product;

/* A product id of 1..64 bytes; `field` names it in err. */
oms_err inventory_validate_product_id(const char *product_id, const char *field, oms_error *err);

/* A new product: valid id, name of 1..200 bytes, stock 0..1,000,000,000,
 * a price (inventory_validate_price), nothing reserved. */
oms_err inventory_validate_new_product(const product *p, oms_error *err);

/* A catalog price from 0 to 1,000,000.00 (field "price"). */
oms_err inventory_validate_price(int64_t price_cents, oms_error *err);

/* A restock quantity of 1..1,000,000,000 that keeps the product's stock +
 * reserved at most INVENTORY_TOTAL_MAX (exact in JSON and far from int64
 * overflow). */
oms_err inventory_validate_restock(const product *current, int64_t quantity, oms_error *err);

typedef enum { RESERVATION_RESERVED, RESERVATION_RELEASED, RESERVATION_FAILED } reservation_state;

/* "RESERVED", "RELEASED", "FAILED". */
const char *reservation_state_name(reservation_state s);
/* false for any other text. */
bool reservation_state_parse(const char *text, reservation_state *out);

/* The only move a reservation makes: RESERVED -> RELEASED. */
bool reservation_can_transition(reservation_state from, reservation_state to);

/* Why the ledger moved: the product's creation, a restock, a reservation
 * taking stock, a release giving it back. */
typedef enum { STOCK_INITIAL, STOCK_RESTOCK, STOCK_RESERVE, STOCK_RELEASE } stock_change_kind;
const char *stock_change_kind_name(stock_change_kind k);

typedef struct reservation_line {
    const char *product_id;
    int64_t quantity;
} reservation_line;

/* Validates the requested lines (1..100 lines, each a valid product id and a
 * quantity of 1..1,000,000,000) and writes them to `out` (room for n lines)
 * sorted by product id (byte order) with the quantities of a product named
 * twice summed. OMS_EINVAL with field "items[i]..." otherwise. */
oms_err inventory_merge_lines(const reservation_line *in, size_t n, reservation_line *out, size_t *out_n,
                              oms_error *err);

/* One merged line as found in stock: `known` false when no such product. */
typedef struct stock_check {
    const char *product_id;
    int64_t requested;
    bool known;
    int64_t available;
} stock_check;

/* All or none: true when every line is a known product with enough stock.
 * Otherwise false, with `reason` naming the first line (in the given order)
 * that fails: "unknown product X" or "insufficient stock for product X:
 * requested R, available A". */
bool inventory_can_reserve_all(const stock_check *lines, size_t n, char *reason, size_t reason_len);

/* What to do with a reservation request, given what is recorded for the order. */
typedef enum {
    RESERVE_ATTEMPT,        /* nothing recorded: check stock and reserve */
    RESERVE_ANSWER_SUCCESS, /* already RESERVED: answer success again */
    RESERVE_ANSWER_FAILURE  /* RELEASED or FAILED: answer failure again */
} reserve_plan;
reserve_plan inventory_plan_reserve(bool exists, reservation_state existing);

/* The reason repeated for RESERVE_ANSWER_FAILURE: "released" for a released
 * reservation, the stored reason of a failed one. */
const char *inventory_repeated_failure_reason(reservation_state existing, const char *stored_reason);

/* What to do with a release request. */
typedef enum {
    RELEASE_GIVE_BACK, /* RESERVED: give every line back, then RELEASED */
    RELEASE_TOMBSTONE, /* nothing recorded: record RELEASED with no lines */
    RELEASE_ANSWER     /* RELEASED or FAILED: answer again, change nothing */
} release_plan;
release_plan inventory_plan_release(bool exists, reservation_state existing);

/* The `released` flag of the answer to a repeated release: true only when an
 * earlier release gave stock back (a RELEASED reservation with lines). */
bool inventory_repeated_release_flag(reservation_state existing, size_t line_count);

#endif
