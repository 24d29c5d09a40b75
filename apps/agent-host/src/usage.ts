/** The help texts of `daemoneye-agent`. */
export const RUN_USAGE = `Usage: daemoneye-agent run [options]

Runs the agent with real collector processes and writes one NDJSON line per aggregated result
("type":"result") and per collector event ("type":"event").

Options:
  --collectors LIST            kinds and counts, e.g. procmond=2,netmond=1 (default procmond=2,netmond=1)
  --collector-command K=CMD    run CMD (split as a shell would, no shell run) as the collector of kind
                               K (repeatable); any executable speaking the collector protocol
  --collector-script K=PATH    run the Node.js script PATH as the collector of kind K (repeatable)
  --config FILE                JSON file setting any of these options (flags given here win)
  --endpoint PATH              socket path (default: $XDG_RUNTIME_DIR/daemoneye/agent.sock or
                               <tmpdir>/daemoneye-<uid>/agent.sock; Windows: \\\\.\\pipe\\daemoneye-<user>-agent)
  --interval MS                time between collection rounds (default 5000)
  --rounds N                   rounds to run, 0 = until SIGINT/SIGTERM/stop (default 0)
  --timeout MS                 timeout of each aggregation (default 2000)
  --heartbeat-interval MS      collector heartbeat interval, >= 100 (default 10000)
  --integrity-per-round N      integrity tasks for new processes per round (default 8)
  --watch-interval MS          procmond diffs the process table this often between rounds and
                               publishes events.process.lifecycle; 0 = off (default 1000)
  --on-give-up retry|exit      a collector given up on: retry after a cool-down, or exit 3 when no
                               collector of its kind is left (default retry); when no collector
                               could start at all the agent exits 3 either way
  --output FILE|-              NDJSON destination (default: stdout when it is not a TTY)
  --max-line-bytes N           longest output line; longer ones are written truncated (default 16777216)
  --log-level LEVEL            error | warn | info | debug (default info; warn with the live table)
  --state-dir DIR              journal accepted work in DIR so a restart after a crash of the agent
                               writes, resumes or closes it (default: no journal)
  --fsync always|interval|never  when the journal is fsynced (default interval, every 100 ms)
  -h, --help                   show this help

Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 no collector could start, 130 forced.
`;

export const STATUS_USAGE = `Usage: daemoneye-agent status [options]

Asks the running agent for its state over the local IPC endpoint (authenticated with its token file).

Options:
  --endpoint PATH   socket path of the agent (default as for 'run')
  --json            print JSON instead of a table
  --timeout MS      how long to wait for the answer (default 3000)
  -h, --help        show this help
`;

export const STOP_USAGE = `Usage: daemoneye-agent stop [options]

Asks the running agent over its IPC endpoint (authenticated with its token file) to stop
gracefully: the round in flight finishes, collectors are stopped, the endpoint files removed.

Options:
  --endpoint PATH   socket path of the agent (default as for 'run')
  --timeout MS      how long to wait for the agent's answer (default 3000)
  -h, --help        show this help
`;

export const MAIN_USAGE = `Usage: daemoneye-agent <command> [options]

Commands:
  run      run the agent with real collector processes
  status   show the state of a running agent
  stop     ask a running agent to stop gracefully

Run 'daemoneye-agent <command> --help' for the options of a command.
Exit codes:
  0    ok (also when stdout is closed by its reader, e.g. '| head -1')
  1    runtime failure
  2    bad command line or config file (usage), a collector command that does not exist
  3    no collector could start, or none of a kind is left with --on-give-up exit
  130  forced by a second signal
`;
