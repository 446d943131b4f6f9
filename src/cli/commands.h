/* commands.h - the CLI's verbs: one file per verb, cmd_<name>(argc, argv) returning the exit
 * status (0 ok, 1 failure, 2 usage error). */
#ifndef MF_CLI_COMMANDS_H
#define MF_CLI_COMMANDS_H

int cmd_audit(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_deid(int argc, char **argv);
/* `medfm deid <command>`: argv[0] is the command name. */
int cmd_deid_eval(int argc, char **argv);
int cmd_deid_fhir(int argc, char **argv);
int cmd_deid_risk(int argc, char **argv);
int cmd_deid_text(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_label(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
