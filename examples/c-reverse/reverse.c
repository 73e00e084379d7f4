/* A WASI command in C: reverses its input by characters.
 *
 * stdin is the task's payload; stdout, the result. UTF-8 sequences stay
 * whole, so "héllo, wörld" becomes "dlröw ,olléh". Empty input fails the
 * task ("exit code 1: nothing to reverse"), to show how a C function fails.
 *
 * Plain POSIX read/write (wasi-libc maps them to WASI fd_read/fd_write):
 * no stdio, so the module stays small.
 *
 * Build: clang --target=wasm32-wasi -O2 -s -o target/reverse.wasm reverse.c
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fail(const char *message) {
    write_all(2, message, strlen(message));
    return 1;
}

/* Length of the UTF-8 sequence that starts at in[i] (1 for a stray byte). */
static size_t sequence_len(const unsigned char *in, size_t i, size_t len) {
    size_t n = in[i] >= 0xF0 ? 4 : in[i] >= 0xE0 ? 3 : in[i] >= 0xC0 ? 2 : 1;
    if (i + n > len) return 1;
    for (size_t k = 1; k < n; k++)
        if ((in[i + k] & 0xC0) != 0x80) return 1;
    return n;
}

int main(void) {
    size_t cap = 4096, len = 0;
    unsigned char *in = malloc(cap);
    if (!in) return fail("out of memory");
    for (;;) {
        if (len == cap) {
            unsigned char *bigger = realloc(in, cap *= 2);
            if (!bigger) return fail("out of memory");
            in = bigger;
        }
        ssize_t n = read(0, in + len, cap - len);
        if (n < 0) return fail("cannot read stdin");
        if (n == 0) break;
        len += (size_t)n;
    }
    if (len == 0) return fail("nothing to reverse");

    char *out = malloc(len);
    if (!out) return fail("out of memory");
    /* Copy each character to the mirror position of the output. */
    for (size_t i = 0; i < len;) {
        size_t n = sequence_len(in, i, len);
        memcpy(out + len - i - n, in + i, n);
        i += n;
    }
    if (write_all(1, out, len) < 0) return fail("cannot write stdout");
    return 0;
}
