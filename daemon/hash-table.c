/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox table's indexes (by id, by owner) without a walk over every
 * sandbox: chained buckets, resized by powers of two, keyed hashing.
 */

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "hash-table.h"

#define HASH_TABLE_MIN_BUCKETS 16U

static uint64_t seed;
static bool seeded;

/* The 64-bit finalizer of MurmurHash3: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t h) {
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h;
}

static uint64_t hash_seed(void) {
        if (!seeded) {
                /* Without entropy yet the table still works, only with a guessable seed. */
                if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t) sizeof seed)
                        seed = (uint64_t) (uintptr_t) &seed ^ UINT64_C(0x9e3779b97f4a7c15);
                seeded = true;
        }
        return seed;
}

uint64_t hash_string(const char *s) {
        uint64_t h = hash_seed() ^ UINT64_C(0xcbf29ce484222325);

        /* FNV-1a over the bytes, from a secret starting point, then mixed. */
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= UINT64_C(0x100000001b3);
        }
        return mix64(h);
}

uint64_t hash_u64(uint64_t v) {
        return mix64(v ^ hash_seed());
}

static void rehash(HashTable *t, size_t n_buckets) {
        HashNode **b;

        b = calloc(n_buckets, sizeof *b);
        if (!b)
                return; /* keep the old size: slower, still correct */

        for (size_t i = 0; i < t->n_buckets; i++)
                while (t->buckets[i]) {
                        HashNode *node = t->buckets[i];
                        size_t k = node->hash & (n_buckets - 1);

                        t->buckets[i] = node->next;
                        node->next = b[k];
                        b[k] = node;
                }
        free(t->buckets);
        t->buckets = b;
        t->n_buckets = n_buckets;
}

int hash_table_add(HashTable *t, HashNode *node, uint64_t hash) {
        size_t k;

        if (t->n_buckets == 0) {
                t->buckets = calloc(HASH_TABLE_MIN_BUCKETS, sizeof *t->buckets);
                if (!t->buckets)
                        return -ENOMEM;
                t->n_buckets = HASH_TABLE_MIN_BUCKETS;
        } else if (t->n >= t->n_buckets)
                rehash(t, t->n_buckets * 2);

        node->hash = hash;
        k = hash & (t->n_buckets - 1);
        node->next = t->buckets[k];
        t->buckets[k] = node;
        t->n++;
        return 0;
}

void hash_table_remove(HashTable *t, HashNode *node) {
        for (HashNode **p = &t->buckets[node->hash & (t->n_buckets - 1)]; *p; p = &(*p)->next)
                if (*p == node) {
                        *p = node->next;
                        node->next = NULL;
                        t->n--;
                        break;
                }

        /* Give the memory back after a peak, with room so add and remove at the edge do not flap. */
        if (t->n_buckets > HASH_TABLE_MIN_BUCKETS && t->n < t->n_buckets / 8)
                rehash(t, t->n_buckets / 2);
}

HashNode *hash_table_find(const HashTable *t, uint64_t hash, bool (*match)(const HashNode *node, const void *key),
                          const void *key) {
        if (t->n_buckets == 0)
                return NULL;
        for (HashNode *node = t->buckets[hash & (t->n_buckets - 1)]; node; node = node->next)
                if (node->hash == hash && match(node, key))
                        return node;
        return NULL;
}

void hash_table_done(HashTable *t) {
        free(t->buckets);
        *t = (HashTable) {};
}
