/* log.h - operator messages on stderr.
 *
 * Never pass PHI: name files, lines, offsets and field paths, never field values.
 * mf_log_set_level(MF_LOG_QUIET) silences info lines (tests, --quiet).
 */
#ifndef MF_CORE_LOG_H
#define MF_CORE_LOG_H

enum mf_log_level { MF_LOG_DEBUG, MF_LOG_INFO, MF_LOG_WARN, MF_LOG_ERROR, MF_LOG_QUIET };

void mf_log_set_level(enum mf_log_level level);
enum mf_log_level mf_log_get_level(void);
void mf_log(enum mf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mf_log_info(...)  mf_log(MF_LOG_INFO, __VA_ARGS__)
#define mf_log_warn(...)  mf_log(MF_LOG_WARN, __VA_ARGS__)
#define mf_log_error(...) mf_log(MF_LOG_ERROR, __VA_ARGS__)

#endif
