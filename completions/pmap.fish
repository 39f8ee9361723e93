complete -c pmap -s j -s P -l jobs -d 'Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for as many as the input allows [default: number of CPUs]' -r
complete -c pmap -s d -l delimiter -d 'Input items end with DELIM: one byte or several (`-d \'\\r\\n\'` for Windows lines), with the escapes `\\n`, `\\t`, `\\r`, `\\0`, `\\\\` and `\\xHH`' -r
complete -c pmap -s a -l arg-file -d 'Read items from FILE (repeatable; each file is one input source)' -r -F
complete -c pmap -l trim -d 'Trim white space off items (or, with --colsep, off each column): n (none), l, r, or lr [default: lr with --colsep, else n]' -r -f -a "n\t''
l\t''
r\t''
lr\t''
rl\t''"
complete -c pmap -l colsep -d 'Split each item into columns {1}, {2}, ... at matches of REGEX' -r
complete -c pmap -s n -l max-args -d 'Give each job up to N items' -r
complete -c pmap -s s -l max-chars -d 'With -X or -m: at most N bytes of command line per job [default: what the system allows, less the environment, as xargs computes it]' -r
complete -c pmap -s E -d 'Stop reading each input source at an item equal to STR (xargs\' -E)' -r
complete -c pmap -l arg-sep -d 'Use SEP instead of ::: to start a list of items' -r
complete -c pmap -l arg-file-sep -d 'Use SEP instead of :::: to start a list of files of items' -r
complete -c pmap -l block -l block-size -d 'With --pipe: blocks of at most SIZE bytes (K, M, G, T: ×1024; k, m, g, t: ×1000; a record longer than SIZE makes its block grow); -N: N blocks per job slot, for input of known size [default: 1M]' -r
complete -c pmap -l recend -d 'With --pipe: records end with STR (`\\n`, `\\t`, `\\r`, `\\0`, `\\\\`, `\\xHH` escapes) [default: \\n, or nothing if --recstart is given]' -r
complete -c pmap -l recstart -d 'With --pipe: records start with STR (escapes as for --recend)' -r
complete -c pmap -s N -d 'N items per job, {1}..{N} empty where the input ran out; 0: run the command with no item, once per item (GNU parallel\'s -N). With --pipe: N records per job' -r
complete -c pmap -s L -l max-lines -d 'N lines per job, a line ending in a blank continued by the next (xargs\' -L); with --pipe: N lines make one record (a block never splits a group of N lines)' -r
complete -c pmap -s l -d 'The same as -L 1 (xargs\' -l; `-l=N` for -L N)' -r
complete -c pmap -l header -d 'Items: the first item of each input source names its columns (cut as --colsep or --csv cut items; at TABs without them), usable as {name}, {name.}, {name/}, {name//}, {name/.} in the command and --tagstring; it is not run (`0`: no header item, a file source is named by its path). With --pipe: the first N lines (`:` for one, or the lines a regex matches at the start) are the header, given at the start of every block' -r
complete -c pmap -l rpl -d 'Define a replacement string: TAG stands for {= EXPRESSION =}, e.g. --rpl \'{..} s/\\.[^.]*$//\' (repeatable)' -r
complete -c pmap -s I -d 'Use STR instead of {} as the replacement string for the items' -r
complete -c pmap -s i -l replace -d 'The same as -I {} (xargs\' -i; `--replace=STR` for -I STR)' -r
complete -c pmap -l tagstring -d 'Start every output line with STR (replacement strings allowed, and {host} for the host that ran the job) and a TAB' -r
complete -c pmap -l results -d 'Also keep each job\'s output in DIR/<seq>/stdout, stderr and meta.json' -r -F
complete -c pmap -l pool -d 'How jobs run: a fresh process per job (thread), or long-lived workers that read one item per line on stdin and answer one line each (process)' -r -f -a "thread\t'A fresh process per job'
process\t'Long-lived worker processes fed items on stdin'"
complete -c pmap -l max-tasks -d 'With --pool process: replace each worker after it has handled N items' -r
complete -c pmap -l pool-window -d 'With --pool process: send each worker up to N items ahead of their answers (default: automatic, from 1 for slow items up to 4096 for fast ones)' -r
complete -c pmap -l timeout -d 'End a job that runs longer than DURATION (30, 1.5s, 500ms, 2m, 1h): SIGTERM to its process group, then SIGKILL after the kill grace; the job fails, and a line on stderr names it' -r
complete -c pmap -l kill-grace -d 'How long a job gets between SIGTERM and SIGKILL [default: 2s]' -r
complete -c pmap -l retries -d 'Try a failed job up to N times in all (GNU parallel\'s meaning; 0 and 1: no retry); only its last attempt\'s output is printed' -r
complete -c pmap -l nice -d 'Run the jobs at nice value N (-20..19; below 0 needs privilege)' -r
complete -c pmap -l wd -l workdir -d 'Run each job in DIR (`...`: a fresh temporary directory per job, removed after it; on a remote host, a relative DIR is relative to the login directory, and `.` is this directory\'s path relative to $HOME)' -r -F
complete -c pmap -l tmpdir -l tempdir -d 'Keep pmap\'s temporary files (spilled output, --cat blocks, --fifo pipes) in DIR, and give jobs TMPDIR=DIR [default: $TMPDIR, else /tmp]' -r -F
complete -c pmap -l memfree -d 'Start no job while less than SIZE of memory is available (K, M, G, T: ×1024; k, m, g, t: ×1000); below half of SIZE, end the youngest job and run it again later' -r
complete -c pmap -l load -d 'Start no job while the 1-minute load average is above MAX (a number, or N% of the CPUs)' -r
complete -c pmap -l env -d 'With -S: give remote jobs the variable or exported bash function NAME from here (repeatable)' -r
complete -c pmap -l delay -d 'Wait at least DURATION between job starts' -r
complete -c pmap -l halt -d 'When to stop early: never, or now,COND / soon,COND with COND fail=N, success=N, done=N or the same with N% (e.g. --halt now,fail=1)' -r
complete -c pmap -l joblog -l jl -d 'Log each finished job to FILE, in GNU parallel\'s joblog format' -r -F
complete -c pmap -l total-jobs -l total -d 'With --bar, --eta or --progress: the number of jobs, when pmap cannot know it before the input ends (input from a pipe), so that the total and the ETA show from the start; also {##}\'s number' -r
complete -c pmap -s S -l sshlogin -d 'Run jobs on these hosts through ssh: comma-separated, `N/host` gives N slots (else -j), `:` is this machine, `user@host` and `host:port` accepted (repeatable)' -r
complete -c pmap -l sshlogin-file -l slf -d 'Read hosts for --sshlogin from FILE: one per line, `#` starts a comment (repeatable)' -r -F
complete -c pmap -l ssh-command -l ssh -d 'The ssh command to reach the hosts with, split into words like a shell would (e.g. \'ssh -F ./config\') [default: ssh]' -r
complete -c pmap -l slurm-cpus -d 'CPUs for each job\'s step (srun --cpus-per-task) [default: 1]' -r
complete -c pmap -l slurm-args -d 'More srun options for every job (partition, account, time limit, ...), split into words like a shell would, e.g. \'-p short -t 10\'; checked once at start' -r
complete -c pmap -l color -d 'Colour tags and pmap\'s failure notices: auto (when the output is a terminal and NO_COLOR is unset), always or never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c pmap -l generate -d 'Print a shell completion script or the man page on stdout, and exit; needs no command and reads no input' -r -f -a "complete-bash\t''
complete-zsh\t''
complete-fish\t''
complete-elvish\t''
complete-powershell\t''
man\t''"
complete -c pmap -s 0 -l null -d 'Input items end with NUL instead of newline'
complete -c pmap -l link -l xapply -d 'Combine several input sources pairwise instead of as a cartesian product; shorter sources wrap around'
complete -c pmap -l csv -d 'Read items as CSV records: quoted fields may hold the delimiter, newlines and `""` quotes; the fields are the columns {1}, {2}, ... (the delimiter is --colsep\'s one character, else `,`)'
complete -c pmap -s X -d 'As many items per job as fit on the command line, the word around {} repeated for each (`rm -X` style: `-X mv -t dir {}`, `-X echo pre{}post`)'
complete -c pmap -s m -l xargs -d 'As many items per job as fit on the command line, all in place of {}'
complete -c pmap -l shuf -d 'Read every job first, then run them in a random order (numbered in that order)'
complete -c pmap -s r -l no-run-if-empty -d 'Skip items that are empty or only white space (xargs\' -r)'
complete -c pmap -l pipe -l spreadstdin -d 'Cut standard input (or the one -a FILE) into blocks of whole records and give each job one block on its stdin, instead of running a job per item'
complete -c pmap -l pipepart -l pipe-part -d 'Like --pipe, for the file of -a FILE: pmap finds the cuts by seeking, and each job\'s part goes from the file to the job without passing through pmap\'s memory'
complete -c pmap -l regexp -d 'With --pipe: --recend and --recstart are regular expressions'
complete -c pmap -l rrs -l remove-rec-sep -l removerecsep -d 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block'
complete -c pmap -l round-robin -l round -d 'With --pipe: start exactly -j jobs and give each block to whichever is ready, instead of a job per block'
complete -c pmap -l cat -d 'With --pipe: give each job its block in a temporary file named by {} instead of on stdin (implies --pipe)'
complete -c pmap -l fifo -d 'With --pipe: give each job its block through a named pipe named by {} (implies --pipe)'
complete -c pmap -l plus -d 'More replacement strings: {..} {...} {/..} {/...} (two or three extensions off), {+/} {+.} {+..} {+...} (the parts those take off), {##} (the number of jobs), {0#} {0%} (zero-padded {#} {%}), and bash-like {:-TEXT} {:N} {:N:M} {#RE} {##RE} {%RE} {%%RE} {/RE/TEXT} {^RE} {^^RE} {,RE} {,,RE}'
complete -c pmap -s q -l quote -d 'Never run the command through a shell: run its words as they are, even a lone word with shell syntax in it (GNU parallel\'s -q)'
complete -c pmap -l shell -d 'Always run the command through the shell ($PMAP_SHELL or /bin/sh)'
complete -c pmap -l dry-run -l dr -d 'Print each command as it would run, in input order, and run nothing'
complete -c pmap -s k -l keep-order -d 'Print output in input order, whatever order the jobs finish in (not with -u, whose output passes through as it comes)'
complete -c pmap -l group -d 'Print each job\'s output whole when it finishes: stdout, then stderr (the default)'
complete -c pmap -l line-buffer -l lb -d 'Print output lines as soon as they are complete; a line never mixes with another\'s'
complete -c pmap -s u -l ungroup -d 'Pass output through as it arrives (fastest; chunks of different jobs may mix)'
complete -c pmap -l tag -d 'Start every output line with the job\'s items and a TAB'
complete -c pmap -l merge-stderr -d 'Send each job\'s stderr lines to stdout, joined with its stdout lines in arrival order'
complete -c pmap -l json -d 'Print one JSON object per finished job instead of its raw output'
complete -c pmap -l resume -d 'Skip jobs already in the --joblog file; append to it'
complete -c pmap -l resume-failed -d 'Re-run jobs the --joblog file records as failed, skip its successes; append to it'
complete -c pmap -l bar -d 'Show a progress bar on stderr (when it is a terminal): done/total, failures, rate, ETA; the total shows from the start for ::: lists and files (input from a pipe: see --total-jobs)'
complete -c pmap -l eta -d 'Show the estimated time left on stderr (when it is a terminal)'
complete -c pmap -l progress -d 'Show GNU parallel\'s progress line on stderr (when it is a terminal): jobs running, jobs done, and the average seconds per job'
complete -c pmap -s v -l verbose -d 'Print each command on stdout, just before its output (GNU parallel\'s -v)'
complete -c pmap -s t -d 'Print each command on stderr as it starts (GNU parallel\'s and xargs\' -t)'
complete -c pmap -l no-ssh-sharing -d 'Open a new ssh connection for every job instead of sharing one per host (slower; for servers that refuse connection sharing)'
complete -c pmap -l slurm -d 'Run each job as a Slurm job step through srun: inside an allocation (SLURM_JOB_ID set) a step of it, outside one a one-task allocation of its own; -j defaults to what the allocation runs at once'
complete -c pmap -l will-cite -l citation -d 'Accepted for GNU parallel\'s sake; pmap asks for no citation'
complete -c pmap -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pmap -s V -l version -d 'Print version'
