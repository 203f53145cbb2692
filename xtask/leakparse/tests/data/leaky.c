/* leaky.c: fixture program for runcost-leakparse (see README.md).
 *
 * What it does, and what the tools must report:
 *   leak_definite  malloc(100), pointer dropped          -> definitely lost: 100 B
 *   leak_indirect  a leaked 16-byte struct holder whose   -> definitely lost: 16 B direct
 *                  payload points to a 64-byte block      -> indirectly lost: 64 B
 *   leak_possible  malloc(200), only p+10 kept in a global -> possibly lost: 200 B
 *   temporaries    50 x malloc(32)/free, 1 x 1.5 MB        -> 51 temporary allocations
 *   invalid_read   reads 1 byte just past a 10-byte block  -> InvalidRead (size 1)
 * With the argument "hang" it sleeps after the invalid read, so the run can be
 * killed to produce a truncated XML file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct holder {
    char *payload;
    long tag;
};

static char *volatile interior; /* keeps an interior pointer: "possibly lost" */

__attribute__((noinline)) void leak_definite(void) {
    char *volatile p = malloc(100);
    memset(p, 1, 100);
    p = NULL; /* lost for good */
}

__attribute__((noinline)) struct holder *make_holder(void) {
    struct holder *h = malloc(sizeof *h); /* 16 bytes, definitely lost */
    h->payload = malloc(64);              /* 64 bytes, indirectly lost */
    memset(h->payload, 2, 64);
    h->tag = 7;
    return h;
}

__attribute__((noinline)) void leak_indirect(void) {
    struct holder *volatile h = make_holder();
    h = NULL;
}

__attribute__((noinline)) void leak_possible(void) {
    char *p = malloc(200);
    memset(p, 3, 200);
    interior = p + 10; /* only an interior pointer remains */
}

__attribute__((noinline)) void temporaries(void) {
    for (int i = 0; i < 50; i++) {
        char *volatile t = malloc(32);
        t[0] = (char)i;
        free(t);
    }
    char *volatile big = malloc(1500000);
    memset(big, 5, 1500000);
    free(big);
}

__attribute__((noinline)) int invalid_read(void) {
    char *volatile b = malloc(10);
    memset(b, 4, 10);
    int v = b[10]; /* one past the end */
    free(b);
    return v;
}

int main(int argc, char **argv) {
    leak_definite();
    leak_indirect();
    leak_possible();
    temporaries();
    int v = invalid_read();
    if (argc > 1 && strcmp(argv[1], "hang") == 0)
        sleep(60);
    printf("done %d\n", v != 12345);
    return 0;
}
