#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup, getline, strncasecmp */
#endif
#include "sbx_nonce.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *bnext; /* bucket chain */
    struct entry *qnext; /* arrival order */
    int64_t expires;
    uint64_t hash;
    char nonce[];
};

struct sbx_nonce_set {
    pthread_mutex_t mu;
    int64_t window;
    int64_t last_now;
    struct entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    struct entry *qhead, *qtail;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct sbx_nonce_set *sbx_nonce_new(int64_t window_ms)
{
    struct sbx_nonce_set *set = calloc(1, sizeof *set);

    if (set == NULL)
        return NULL;
    set->nbuckets = 1024;
    set->buckets = calloc(set->nbuckets, sizeof *set->buckets);
    if (set->buckets == NULL) {
        free(set);
        return NULL;
    }
    set->window = window_ms;
    pthread_mutex_init(&set->mu, NULL);
    return set;
}

void sbx_nonce_free(struct sbx_nonce_set *set)
{
    struct entry *e, *next;

    if (set == NULL)
        return;
    for (e = set->qhead; e != NULL; e = next) {
        next = e->qnext;
        free(e);
    }
    free(set->buckets);
    pthread_mutex_destroy(&set->mu);
    free(set);
}

static void unlink_bucket(struct sbx_nonce_set *set, struct entry *e)
{
    struct entry **pp = &set->buckets[e->hash & (set->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->bnext;
    *pp = e->bnext;
}

static void expire(struct sbx_nonce_set *set, int64_t now)
{
    while (set->qhead != NULL && set->qhead->expires <= now) {
        struct entry *e = set->qhead;

        set->qhead = e->qnext;
        if (set->qhead == NULL)
            set->qtail = NULL;
        unlink_bucket(set, e);
        set->count--;
        free(e);
    }
}

static void grow(struct sbx_nonce_set *set)
{
    size_t n = set->nbuckets * 2;
    struct entry **nb = calloc(n, sizeof *nb);

    if (nb == NULL)
        return; /* keep the longer chains; still correct */
    for (size_t i = 0; i < set->nbuckets; i++) {
        struct entry *e = set->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->bnext;
            e->bnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(set->buckets);
    set->buckets = nb;
    set->nbuckets = n;
}

int sbx_nonce_check_add(struct sbx_nonce_set *set, const char *nonce,
                        int64_t now_ms, int remember)
{
    uint64_t h = fnv1a(nonce);
    size_t len = strlen(nonce);
    struct entry *e;
    int rc = 0;

    pthread_mutex_lock(&set->mu);
    /* Arrival order must equal expiry order: time never goes back here. */
    if (now_ms < set->last_now)
        now_ms = set->last_now;
    set->last_now = now_ms;
    expire(set, now_ms);
    for (e = set->buckets[h & (set->nbuckets - 1)]; e != NULL; e = e->bnext)
        if (e->hash == h && strcmp(e->nonce, nonce) == 0)
            break;
    if (e != NULL) {
        rc = 1;
        goto out;
    }
    if (!remember)
        goto out;
    e = malloc(sizeof *e + len + 1);
    if (e == NULL) {
        rc = -1;
        goto out;
    }
    memcpy(e->nonce, nonce, len + 1);
    e->hash = h;
    e->expires = now_ms + set->window;
    e->qnext = NULL;
    e->bnext = set->buckets[h & (set->nbuckets - 1)];
    set->buckets[h & (set->nbuckets - 1)] = e;
    if (set->qtail != NULL)
        set->qtail->qnext = e;
    else
        set->qhead = e;
    set->qtail = e;
    if (++set->count > set->nbuckets)
        grow(set);
out:
    pthread_mutex_unlock(&set->mu);
    return rc;
}

size_t sbx_nonce_count(struct sbx_nonce_set *set)
{
    size_t n;

    pthread_mutex_lock(&set->mu);
    n = set->count;
    pthread_mutex_unlock(&set->mu);
    return n;
}
