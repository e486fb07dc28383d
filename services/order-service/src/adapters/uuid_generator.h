/* uuid_generator.h -- the id generator port over random (v4) UUIDs. */
#ifndef ORDER_UUID_GENERATOR_H
#define ORDER_UUID_GENERATOR_H

#include "application/ports/id_generator.h"

/* Stateless: any number of copies serve any number of threads. */
id_generator uuid_generator(void);

#endif
