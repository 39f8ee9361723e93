
use builtin;
use str;

set edit:completion:arg-completer[pmap] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'pmap'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'pmap'= {
            cand -j 'Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for as many as the input allows [default: number of CPUs]'
            cand --jobs 'Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for as many as the input allows [default: number of CPUs]'
            cand -d 'Input items end with DELIM (one byte; `\n`, `\t`, `\0` and `\\` escapes accepted)'
            cand --delimiter 'Input items end with DELIM (one byte; `\n`, `\t`, `\0` and `\\` escapes accepted)'
            cand -a 'Read items from FILE (repeatable; each file is one input source)'
            cand --arg-file 'Read items from FILE (repeatable; each file is one input source)'
            cand --colsep 'Split each item into columns {1}, {2}, ... at matches of REGEX'
            cand -n 'Give each job up to N items'
            cand --max-args 'Give each job up to N items'
            cand -E 'Stop reading each input source at an item equal to STR (xargs'' -E)'
            cand --arg-sep 'Use SEP instead of ::: to start a list of items'
            cand --arg-file-sep 'Use SEP instead of :::: to start a list of files of items'
            cand --block 'With --pipe: blocks of at most SIZE bytes (K, M, G, T: ×1024; k, m, g, t: ×1000; a record longer than SIZE makes its block grow); -N: N blocks per job slot, for input of known size [default: 1M]'
            cand --block-size 'With --pipe: blocks of at most SIZE bytes (K, M, G, T: ×1024; k, m, g, t: ×1000; a record longer than SIZE makes its block grow); -N: N blocks per job slot, for input of known size [default: 1M]'
            cand --recend 'With --pipe: records end with STR (`\n`, `\t`, `\r`, `\0`, `\\`, `\xHH` escapes) [default: \n, or nothing if --recstart is given]'
            cand --recstart 'With --pipe: records start with STR (escapes as for --recend)'
            cand -N 'N items per job, {1}..{N} empty where the input ran out; 0: run the command with no item, once per item (GNU parallel''s -N). With --pipe: N records per job'
            cand -L 'With --pipe: N lines make one record (a block never splits a group of N lines)'
            cand --max-lines 'With --pipe: N lines make one record (a block never splits a group of N lines)'
            cand --header 'With --pipe: the first N lines (`:` for one, or the lines a regex matches at the start) are the header, given at the start of every block'
            cand -I 'Use STR instead of {} as the replacement string for the items'
            cand --tagstring 'Start every output line with STR (replacement strings allowed, and {host} for the host that ran the job) and a TAB'
            cand --results 'Also keep each job''s output in DIR/<seq>/stdout, stderr and meta.json'
            cand --pool 'How jobs run: a fresh process per job (thread), or long-lived workers that read one item per line on stdin and answer one line each (process)'
            cand --max-tasks 'With --pool process: replace each worker after it has handled N items'
            cand --pool-window 'With --pool process: send each worker up to N items ahead of their answers (default: automatic, from 1 for slow items up to 256 for fast ones)'
            cand --timeout 'End a job that runs longer than DURATION (30, 1.5s, 500ms, 2m, 1h): SIGTERM to its process group, then SIGKILL after the kill grace; the job fails'
            cand --kill-grace 'How long a job gets between SIGTERM and SIGKILL [default: 2s]'
            cand --retries 'Run a failed job up to N more times; only its last attempt''s output is printed'
            cand --delay 'Wait at least DURATION between job starts'
            cand --halt 'When to stop early: never, or now,COND / soon,COND with COND fail=N, success=N, done=N or the same with N% (e.g. --halt now,fail=1)'
            cand --joblog 'Log each finished job to FILE, in GNU parallel''s joblog format'
            cand --jl 'Log each finished job to FILE, in GNU parallel''s joblog format'
            cand -S 'Run jobs on these hosts through ssh: comma-separated, `N/host` gives N slots (else -j), `:` is this machine, `user@host` and `host:port` accepted (repeatable)'
            cand --sshlogin 'Run jobs on these hosts through ssh: comma-separated, `N/host` gives N slots (else -j), `:` is this machine, `user@host` and `host:port` accepted (repeatable)'
            cand --sshlogin-file 'Read hosts for --sshlogin from FILE: one per line, `#` starts a comment (repeatable)'
            cand --slf 'Read hosts for --sshlogin from FILE: one per line, `#` starts a comment (repeatable)'
            cand --ssh-command 'The ssh command to reach the hosts with, split into words like a shell would (e.g. ''ssh -F ./config'') [default: ssh]'
            cand --ssh 'The ssh command to reach the hosts with, split into words like a shell would (e.g. ''ssh -F ./config'') [default: ssh]'
            cand --color 'Colour tags and pmap''s failure notices: auto (when the output is a terminal and NO_COLOR is unset), always or never'
            cand -0 'Input items end with NUL instead of newline'
            cand --null 'Input items end with NUL instead of newline'
            cand --link 'Combine several input sources pairwise instead of as a cartesian product; shorter sources wrap around'
            cand --xapply 'Combine several input sources pairwise instead of as a cartesian product; shorter sources wrap around'
            cand -r 'Skip items that are empty or only white space (xargs'' -r)'
            cand --no-run-if-empty 'Skip items that are empty or only white space (xargs'' -r)'
            cand --pipe 'Cut standard input (or the one -a FILE) into blocks of whole records and give each job one block on its stdin, instead of running a job per item'
            cand --spreadstdin 'Cut standard input (or the one -a FILE) into blocks of whole records and give each job one block on its stdin, instead of running a job per item'
            cand --pipepart 'Like --pipe, for the file of -a FILE: pmap finds the cuts by seeking, and each job''s part goes from the file to the job without passing through pmap''s memory'
            cand --pipe-part 'Like --pipe, for the file of -a FILE: pmap finds the cuts by seeking, and each job''s part goes from the file to the job without passing through pmap''s memory'
            cand --regexp 'With --pipe: --recend and --recstart are regular expressions'
            cand --rrs 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block'
            cand --remove-rec-sep 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block'
            cand --removerecsep 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block'
            cand --round-robin 'With --pipe: start exactly -j jobs and give each block to whichever is ready, instead of a job per block'
            cand --round 'With --pipe: start exactly -j jobs and give each block to whichever is ready, instead of a job per block'
            cand --cat 'With --pipe: give each job its block in a temporary file named by {} instead of on stdin (implies --pipe)'
            cand --fifo 'With --pipe: give each job its block through a named pipe named by {} (implies --pipe)'
            cand -q 'Never run the command through a shell: run its words as they are, even a lone word with shell syntax in it (GNU parallel''s -q)'
            cand --quote 'Never run the command through a shell: run its words as they are, even a lone word with shell syntax in it (GNU parallel''s -q)'
            cand --shell 'Always run the command through the shell ($PMAP_SHELL or /bin/sh)'
            cand --dry-run 'Print each command as it would run, in input order, and run nothing'
            cand --dr 'Print each command as it would run, in input order, and run nothing'
            cand -k 'Print output in input order, whatever order the jobs finish in'
            cand --keep-order 'Print output in input order, whatever order the jobs finish in'
            cand --group 'Print each job''s output whole when it finishes: stdout, then stderr (the default)'
            cand --line-buffer 'Print output lines as soon as they are complete; a line never mixes with another''s'
            cand --lb 'Print output lines as soon as they are complete; a line never mixes with another''s'
            cand -u 'Pass output through as it arrives (fastest; chunks of different jobs may mix)'
            cand --ungroup 'Pass output through as it arrives (fastest; chunks of different jobs may mix)'
            cand --tag 'Start every output line with the job''s items and a TAB'
            cand --merge-stderr 'Send each job''s stderr lines to stdout, joined with its stdout lines in arrival order'
            cand --json 'Print one JSON object per finished job instead of its raw output'
            cand --resume 'Skip jobs already in the --joblog file; append to it'
            cand --resume-failed 'Re-run jobs the --joblog file records as failed, skip its successes; append to it'
            cand --bar 'Show a progress bar on stderr (when it is a terminal): done/total, failures, rate, ETA'
            cand --eta 'Show the estimated time left on stderr (when it is a terminal)'
            cand -v 'Print each command on stdout, just before its output (GNU parallel''s -v)'
            cand --verbose 'Print each command on stdout, just before its output (GNU parallel''s -v)'
            cand -t 'Print each command on stderr as it starts (GNU parallel''s and xargs'' -t)'
            cand --no-ssh-sharing 'Open a new ssh connection for every job instead of sharing one per host (slower; for servers that refuse connection sharing)'
            cand --will-cite 'Accepted for GNU parallel''s sake; pmap asks for no citation'
            cand --citation 'Accepted for GNU parallel''s sake; pmap asks for no citation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
