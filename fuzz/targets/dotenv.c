/* dotenv.c -- fuzz target: the `.env` parser of lib/oms/config.c
 * (oms_config_load_dotenv), which reads a file an operator may get wrong.
 *
 * The loader is included here so that its three exits to the outside are
 * this target's: fopen reads the fuzz input (fmemopen), exit(2) -- the
 * loader's documented answer to a malformed line -- returns to the target
 * (longjmp), and setenv checks what it is given instead of filling the
 * environment. Its own messages on stderr are swallowed.
 *
 * Properties: a variable set has a valid name ([A-Za-z_][A-Za-z0-9_]*) and is
 * never overriding (overwrite 0); the exit status is always 2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static jmp_buf on_exit_env;
static FILE *open_file;
static const uint8_t *input;
static size_t input_size;

static FILE *fuzz_fopen(const char *path, const char *mode)
{
    (void)path;
    open_file = fmemopen((void *)input, input_size, mode);
    return open_file;
}

static int fuzz_fclose(FILE *f)
{
    open_file = NULL;
    return fclose(f);
}

__attribute__((noreturn)) static void fuzz_exit(int status)
{
    CHECK(status == 2);
    longjmp(on_exit_env, 1);
}

static int fuzz_fprintf(FILE *f, const char *fmt, ...)
{
    (void)f;
    (void)fmt;
    return 0;
}

static int fuzz_setenv(const char *name, const char *value, int overwrite)
{
    CHECK(overwrite == 0);
    CHECK(value != NULL);
    CHECK(name[0] != '\0' && !(name[0] >= '0' && name[0] <= '9'));
    for (const char *p = name; *p; p++)
        CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    return 0;
}

#define fopen fuzz_fopen
#define fclose fuzz_fclose
#define exit fuzz_exit
#define fprintf fuzz_fprintf
#define setenv fuzz_setenv
#include "../../lib/oms/config.c"
#undef fopen
#undef fclose
#undef exit
#undef fprintf
#undef setenv

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer; an empty file is trivially fine */
    input = data;
    input_size = size;
    if (setjmp(on_exit_env) == 0)
        oms_config_load_dotenv("fuzz.env");
    if (open_file) /* left open by an exit in the middle of the file */
        fuzz_fclose(open_file);
    return 0;
}
