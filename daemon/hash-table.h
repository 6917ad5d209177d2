/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An intrusive chained hash table: the entry embeds a HashNode, so adding
 * allocates nothing but the bucket array, which doubles as the table grows
 * and halves as it empties. Lookups compare keys through a callback; the
 * caller hashes with hash_string() or hash_u64().
 *
 * The hash is keyed with a random seed per process, so no caller can pick
 * keys that land in one bucket on purpose.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct HashNode {
        struct HashNode *next;
        uint64_t hash;
} HashNode;

/* The entry a node is embedded in. */
#define hash_entry(node, type, member) ((type *) ((char *) (node) - offsetof(type, member)))

typedef struct HashTable {
        HashNode **buckets;
        size_t n_buckets; /* 0 or a power of two */
        size_t n;
} HashTable;

uint64_t hash_string(const char *s);
uint64_t hash_u64(uint64_t v);

/* Adds node under hash; 0, or -ENOMEM (nothing changed). The same key may be added twice: lookups find either. */
int hash_table_add(HashTable *t, HashNode *node, uint64_t hash);
/* Removes node, which must be in t. */
void hash_table_remove(HashTable *t, HashNode *node);

/* The first node under hash for which match(node, key) is true, or NULL. */
HashNode *hash_table_find(const HashTable *t, uint64_t hash, bool (*match)(const HashNode *node, const void *key),
                          const void *key);

/* Every node of t, in no order; t must not change meanwhile. */
#define HASH_TABLE_FOREACH(t, node)                                        \
        for (size_t node##_bucket = 0; node##_bucket < (t)->n_buckets; node##_bucket++) \
                for (HashNode *node = (t)->buckets[node##_bucket]; node; node = node->next)

/* Frees the bucket array; the nodes belong to their owners. */
void hash_table_done(HashTable *t);
