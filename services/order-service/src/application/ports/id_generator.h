/* id_generator.h -- new ids (order, saga, command), so tests can fix them. */
#ifndef ORDER_PORT_ID_GENERATOR_H
#define ORDER_PORT_ID_GENERATOR_H

#include "oms/util.h"

typedef struct id_generator id_generator;
typedef struct id_generator_ops {
    /* A new unique id (UUID text) into out. */
    void (*new_id)(id_generator *g, char out[OMS_UUID_LEN + 1]);
} id_generator_ops;
struct id_generator {
    const id_generator_ops *ops;
    void *self;
};
static inline void id_generator_new(id_generator *g, char out[OMS_UUID_LEN + 1]) { g->ops->new_id(g, out); }

#endif
