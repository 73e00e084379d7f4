/* {{name}}: a faas function written in C as a WASI command. The task's
 * payload (a JSON string) is its stdin; what it prints is the task's
 * result. A non-zero exit fails the task with what it wrote to stderr. */
#include <stdio.h>
#include <string.h>

int main(void) {
    char name[256];
    size_t len = fread(name, 1, sizeof name - 1, stdin);
    while (len > 0 && (name[len - 1] == '\n' || name[len - 1] == ' ')) len--;
    name[len] = '\0';
    printf("Hello, %s!\n", len > 0 ? name : "world");
    return 0;
}
