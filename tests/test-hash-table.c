/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's hash table: lookups through growth and shrinking, removal, duplicate keys. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hash-table.h"

typedef struct Entry {
        char key[16];
        HashNode node;
} Entry;

static bool entry_matches(const HashNode *node, const void *key) {
        return strcmp(hash_entry(node, Entry, node)->key, key) == 0;
}

static Entry *find(const HashTable *t, const char *key) {
        HashNode *node = hash_table_find(t, hash_string(key), entry_matches, key);

        return node ? hash_entry(node, Entry, node) : NULL;
}

#define N 5000

Test(hash_table, grows_finds_removes_and_shrinks) {
        static Entry entries[N];
        HashTable t = {};

        cr_assert_null(find(&t, "nothing"), "an empty table finds nothing");

        for (size_t i = 0; i < N; i++) {
                snprintf(entries[i].key, sizeof entries[i].key, "k%zu", i);
                cr_assert_eq(hash_table_add(&t, &entries[i].node, hash_string(entries[i].key)), 0);
        }
        cr_assert_eq(t.n, N);
        cr_assert_geq(t.n_buckets, N, "grows with its entries (%zu buckets)", t.n_buckets);
        for (size_t i = 0; i < N; i++)
                cr_assert_eq(find(&t, entries[i].key), &entries[i], "finds %s", entries[i].key);
        cr_assert_null(find(&t, "k5000"));

        /* Remove every other one, then all but one: the rest stays reachable at every size. */
        for (size_t i = 0; i < N; i += 2)
                hash_table_remove(&t, &entries[i].node);
        for (size_t i = 0; i < N; i++)
                cr_assert_eq(find(&t, entries[i].key), i % 2 ? &entries[i] : NULL, "%s", entries[i].key);
        for (size_t i = 1; i < N - 1; i += 2)
                hash_table_remove(&t, &entries[i].node);
        cr_assert_eq(t.n, 1);
        cr_assert_leq(t.n_buckets, 64, "gives its buckets back (%zu left)", t.n_buckets);
        cr_assert_eq(find(&t, entries[N - 1].key), &entries[N - 1]);

        hash_table_done(&t);
        cr_assert_null(t.buckets);
        cr_assert_eq(t.n, 0);
}

Test(hash_table, same_key_twice_and_integer_keys) {
        Entry a = { .key = "x" }, b = { .key = "x" };
        HashTable t = {};

        cr_assert_eq(hash_table_add(&t, &a.node, hash_string("x")), 0);
        cr_assert_eq(hash_table_add(&t, &b.node, hash_string("x")), 0);
        hash_table_remove(&t, &b.node);
        cr_assert_eq(find(&t, "x"), &a);
        hash_table_remove(&t, &a.node);
        cr_assert_null(find(&t, "x"));

        cr_assert_eq(hash_u64(1000), hash_u64(1000));
        cr_assert_neq(hash_u64(1000), hash_u64(1001));
        cr_assert_neq(hash_string(""), hash_string("a"));
        hash_table_done(&t);
}
