/* cmds.h — the subcommands of the cbas binary. Each takes (argc, argv) with argv[0] = the
 * subcommand name and returns the process exit status (0 ok, 1 failure, 2 usage error).
 * To add a command: declare it here and add a row to the table in main.c. */
#ifndef CBAS_CMDS_H
#define CBAS_CMDS_H
int cmd_info(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_prep(int argc, char **argv);
int cmd_stack_dump(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_loop(int argc, char **argv);
int cmd_invert(int argc, char **argv);
int cmd_vstd(int argc, char **argv);
int cmd_png(int argc, char **argv);
int cmd_mask_ts(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_ts(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_vel(int argc, char **argv);
int cmd_decompose(int argc, char **argv);
int cmd_run(int argc, char **argv);
#endif
