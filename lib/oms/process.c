/* process.c -- signals are blocked in every thread and taken with sigwait, so
 * no code runs in a signal handler; a second signal during the stop exits;
 * SIGHUP runs the reload hooks on the waiting thread. */
#include "process.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define RELOAD_HOOKS_MAX 4

static atomic_bool stopping;

typedef struct reload_hook {
    void (*fn)(void *ctx);
    void *ctx;
} reload_hook;

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static reload_hook reload_hooks[RELOAD_HOOKS_MAX];

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

void oms_process_settings_add(oms_settings *t, oms_process_settings *s)
{
    const oms_setting rows[] = {
        {.name = "LOG_LEVEL",
         .kind = OMS_SETTING_ENUM,
         .fallback = "info",
         .allowed = levels,
         .target = &s->log_level,
         .doc = "The lowest level of the log lines written."},
    };
    oms_settings_add(t, "process", rows, 1);
}

void oms_process_init(const char *service_name, const oms_process_settings *s)
{
    sigset_t set;
    stop_signals(&set);
    sigaddset(&set, SIGPIPE); /* a closed peer is an EPIPE, never a dead process */
    sigaddset(&set, SIGHUP);  /* taken by oms_process_wait: reload, not death */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    oms_log_level min = OMS_LOG_INFO;
    for (int i = 0; levels[i] && s && s->log_level; i++) {
        if (strcmp(levels[i], s->log_level) == 0)
            min = (oms_log_level)i;
    }
    oms_log_init(service_name, min);
}

static void *exit_on_second_signal(void *arg)
{
    (void)arg;
    sigset_t set;
    stop_signals(&set);
    int sig = 0;
    sigwait(&set, &sig);
    static const char msg[] = "{\"event\":\"forced_exit\",\"reason\":\"second signal during stop\"}\n";
    ssize_t ignored = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(128 + sig);
}

bool oms_process_on_reload(void (*fn)(void *ctx), void *ctx)
{
    bool added = false;
    pthread_mutex_lock(&reload_lock);
    for (int i = 0; i < RELOAD_HOOKS_MAX && !added; i++) {
        if (!reload_hooks[i].fn) {
            reload_hooks[i] = (reload_hook){.fn = fn, .ctx = ctx};
            added = true;
        }
    }
    pthread_mutex_unlock(&reload_lock);
    return added;
}

void oms_process_forget_reload(void *ctx)
{
    pthread_mutex_lock(&reload_lock);
    for (int i = 0; i < RELOAD_HOOKS_MAX; i++) {
        if (reload_hooks[i].fn && reload_hooks[i].ctx == ctx)
            reload_hooks[i] = (reload_hook){0};
    }
    pthread_mutex_unlock(&reload_lock);
}

static void run_reload_hooks(void)
{
    oms_log(OMS_LOG_INFO, "reloading", "signal", "SIGHUP", NULL);
    pthread_mutex_lock(&reload_lock);
    for (int i = 0; i < RELOAD_HOOKS_MAX; i++) {
        if (reload_hooks[i].fn)
            reload_hooks[i].fn(reload_hooks[i].ctx);
    }
    pthread_mutex_unlock(&reload_lock);
}

int oms_process_wait(void)
{
    sigset_t set;
    stop_signals(&set);
    sigaddset(&set, SIGHUP);
    int sig = 0;
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        run_reload_hooks();
    }
    atomic_store(&stopping, true);
    char name[16];
    snprintf(name, sizeof name, "%d", sig);
    oms_log(OMS_LOG_INFO, "stopping", "signal", name, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, exit_on_second_signal, NULL) == 0)
        pthread_detach(t);
    return sig;
}

bool oms_process_stopping(void) { return atomic_load(&stopping); }
