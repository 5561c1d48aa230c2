#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <editline/readline.h>

/*
 * Swift 6 language mode refuses to touch C global variables (they are
 * shared mutable state it cannot check), so every libedit global the REPL
 * needs is read or written through one of these functions.
 */

static inline void mbg_rl_set_readline_name(const char *name) {
    rl_readline_name = name;
}

static inline void mbg_rl_set_attempted_completion_function(rl_completion_func_t *function) {
    rl_attempted_completion_function = function;
}

/* 1: never fall back to completing file names. */
static inline void mbg_rl_set_attempted_completion_over(int over) {
    rl_attempted_completion_over = over;
}

/* 0: mbg handles SIGINT itself; libedit must not re-raise it to the process
   group, where another thread may take it and look like a second Ctrl-C. */
static inline void mbg_rl_set_catch_signals(int on) {
    rl_catch_signals = on;
}

static inline void mbg_rl_set_completion_append_character(int character) {
    rl_completion_append_character = character;
}

/* The line being edited, as libedit sees it during a completion. */
static inline const char *mbg_rl_line_buffer(void) {
    return rl_line_buffer;
}

/* Columns of the terminal on fd, or 0 when fd is not a terminal.
 * Here because ioctl() is variadic, which Swift cannot call. */
static inline int mbg_terminal_columns(int fd) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
        return size.ws_col;
    }
    return 0;
}
