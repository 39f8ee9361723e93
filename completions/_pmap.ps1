
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'pmap' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'pmap'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'pmap' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for as many as the input allows [default: number of CPUs]')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for as many as the input allows [default: number of CPUs]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for as many as the input allows [default: number of CPUs]')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Input items end with DELIM: one byte or several (`-d ''\r\n''` for Windows lines), with the escapes `\n`, `\t`, `\r`, `\0`, `\\` and `\xHH`')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'Input items end with DELIM: one byte or several (`-d ''\r\n''` for Windows lines), with the escapes `\n`, `\t`, `\r`, `\0`, `\\` and `\xHH`')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Read items from FILE (repeatable; each file is one input source)')
            [CompletionResult]::new('--arg-file', '--arg-file', [CompletionResultType]::ParameterName, 'Read items from FILE (repeatable; each file is one input source)')
            [CompletionResult]::new('--trim', '--trim', [CompletionResultType]::ParameterName, 'Trim white space off items (or, with --colsep, off each column): n (none), l, r, or lr [default: lr with --colsep, else n]')
            [CompletionResult]::new('--colsep', '--colsep', [CompletionResultType]::ParameterName, 'Split each item into columns {1}, {2}, ... at matches of REGEX')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Give each job up to N items')
            [CompletionResult]::new('--max-args', '--max-args', [CompletionResultType]::ParameterName, 'Give each job up to N items')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'With -X or -m: at most N bytes of command line per job [default: what the system allows, less the environment, as xargs computes it]')
            [CompletionResult]::new('--max-chars', '--max-chars', [CompletionResultType]::ParameterName, 'With -X or -m: at most N bytes of command line per job [default: what the system allows, less the environment, as xargs computes it]')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Stop reading each input source at an item equal to STR (xargs'' -E)')
            [CompletionResult]::new('--arg-sep', '--arg-sep', [CompletionResultType]::ParameterName, 'Use SEP instead of ::: to start a list of items')
            [CompletionResult]::new('--arg-file-sep', '--arg-file-sep', [CompletionResultType]::ParameterName, 'Use SEP instead of :::: to start a list of files of items')
            [CompletionResult]::new('--block', '--block', [CompletionResultType]::ParameterName, 'With --pipe: blocks of at most SIZE bytes (K, M, G, T: ×1024; k, m, g, t: ×1000; a record longer than SIZE makes its block grow); -N: N blocks per job slot, for input of known size [default: 1M]')
            [CompletionResult]::new('--block-size', '--block-size', [CompletionResultType]::ParameterName, 'With --pipe: blocks of at most SIZE bytes (K, M, G, T: ×1024; k, m, g, t: ×1000; a record longer than SIZE makes its block grow); -N: N blocks per job slot, for input of known size [default: 1M]')
            [CompletionResult]::new('--recend', '--recend', [CompletionResultType]::ParameterName, 'With --pipe: records end with STR (`\n`, `\t`, `\r`, `\0`, `\\`, `\xHH` escapes) [default: \n, or nothing if --recstart is given]')
            [CompletionResult]::new('--recstart', '--recstart', [CompletionResultType]::ParameterName, 'With --pipe: records start with STR (escapes as for --recend)')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'N items per job, {1}..{N} empty where the input ran out; 0: run the command with no item, once per item (GNU parallel''s -N). With --pipe: N records per job')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'N lines per job, a line ending in a blank continued by the next (xargs'' -L); with --pipe: N lines make one record (a block never splits a group of N lines)')
            [CompletionResult]::new('--max-lines', '--max-lines', [CompletionResultType]::ParameterName, 'N lines per job, a line ending in a blank continued by the next (xargs'' -L); with --pipe: N lines make one record (a block never splits a group of N lines)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'The same as -L 1 (xargs'' -l; `-l=N` for -L N)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Items: the first item of each input source names its columns (cut as --colsep or --csv cut items; at TABs without them), usable as {name}, {name.}, {name/}, {name//}, {name/.} in the command and --tagstring; it is not run (`0`: no header item, a file source is named by its path). With --pipe: the first N lines (`:` for one, or the lines a regex matches at the start) are the header, given at the start of every block')
            [CompletionResult]::new('--rpl', '--rpl', [CompletionResultType]::ParameterName, 'Define a replacement string: TAG stands for {= EXPRESSION =}, e.g. --rpl ''{..} s/\.[^.]*$//'' (repeatable)')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Use STR instead of {} as the replacement string for the items')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'The same as -I {} (xargs'' -i; `--replace=STR` for -I STR)')
            [CompletionResult]::new('--replace', '--replace', [CompletionResultType]::ParameterName, 'The same as -I {} (xargs'' -i; `--replace=STR` for -I STR)')
            [CompletionResult]::new('--tagstring', '--tagstring', [CompletionResultType]::ParameterName, 'Start every output line with STR (replacement strings allowed, and {host} for the host that ran the job) and a TAB')
            [CompletionResult]::new('--results', '--results', [CompletionResultType]::ParameterName, 'Also keep each job''s output in DIR/<seq>/stdout, stderr and meta.json')
            [CompletionResult]::new('--pool', '--pool', [CompletionResultType]::ParameterName, 'How jobs run: a fresh process per job (thread), or long-lived workers that read one item per line on stdin and answer one line each (process)')
            [CompletionResult]::new('--max-tasks', '--max-tasks', [CompletionResultType]::ParameterName, 'With --pool process: replace each worker after it has handled N items')
            [CompletionResult]::new('--pool-window', '--pool-window', [CompletionResultType]::ParameterName, 'With --pool process: send each worker up to N items ahead of their answers (default: automatic, from 1 for slow items up to 256 for fast ones)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'End a job that runs longer than DURATION (30, 1.5s, 500ms, 2m, 1h): SIGTERM to its process group, then SIGKILL after the kill grace; the job fails, and a line on stderr names it')
            [CompletionResult]::new('--kill-grace', '--kill-grace', [CompletionResultType]::ParameterName, 'How long a job gets between SIGTERM and SIGKILL [default: 2s]')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Try a failed job up to N times in all (GNU parallel''s meaning; 0 and 1: no retry); only its last attempt''s output is printed')
            [CompletionResult]::new('--nice', '--nice', [CompletionResultType]::ParameterName, 'Run the jobs at nice value N (-20..19; below 0 needs privilege)')
            [CompletionResult]::new('--wd', '--wd', [CompletionResultType]::ParameterName, 'Run each job in DIR (`...`: a fresh temporary directory per job, removed after it; on a remote host, a relative DIR is relative to the login directory, and `.` is this directory''s path relative to $HOME)')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Run each job in DIR (`...`: a fresh temporary directory per job, removed after it; on a remote host, a relative DIR is relative to the login directory, and `.` is this directory''s path relative to $HOME)')
            [CompletionResult]::new('--tmpdir', '--tmpdir', [CompletionResultType]::ParameterName, 'Keep pmap''s temporary files (spilled output, --cat blocks, --fifo pipes) in DIR, and give jobs TMPDIR=DIR [default: $TMPDIR, else /tmp]')
            [CompletionResult]::new('--tempdir', '--tempdir', [CompletionResultType]::ParameterName, 'Keep pmap''s temporary files (spilled output, --cat blocks, --fifo pipes) in DIR, and give jobs TMPDIR=DIR [default: $TMPDIR, else /tmp]')
            [CompletionResult]::new('--memfree', '--memfree', [CompletionResultType]::ParameterName, 'Start no job while less than SIZE of memory is available (K, M, G, T: ×1024; k, m, g, t: ×1000); below half of SIZE, end the youngest job and run it again later')
            [CompletionResult]::new('--load', '--load', [CompletionResultType]::ParameterName, 'Start no job while the 1-minute load average is above MAX (a number, or N% of the CPUs)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'With -S: give remote jobs the variable or exported bash function NAME from here (repeatable)')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Wait at least DURATION between job starts')
            [CompletionResult]::new('--halt', '--halt', [CompletionResultType]::ParameterName, 'When to stop early: never, or now,COND / soon,COND with COND fail=N, success=N, done=N or the same with N% (e.g. --halt now,fail=1)')
            [CompletionResult]::new('--joblog', '--joblog', [CompletionResultType]::ParameterName, 'Log each finished job to FILE, in GNU parallel''s joblog format')
            [CompletionResult]::new('--jl', '--jl', [CompletionResultType]::ParameterName, 'Log each finished job to FILE, in GNU parallel''s joblog format')
            [CompletionResult]::new('--total-jobs', '--total-jobs', [CompletionResultType]::ParameterName, 'With --bar, --eta or --progress: the number of jobs, when pmap cannot know it before the input ends (input from a pipe), so that the total and the ETA show from the start; also {##}''s number')
            [CompletionResult]::new('--total', '--total', [CompletionResultType]::ParameterName, 'With --bar, --eta or --progress: the number of jobs, when pmap cannot know it before the input ends (input from a pipe), so that the total and the ETA show from the start; also {##}''s number')
            [CompletionResult]::new('-S', '-S ', [CompletionResultType]::ParameterName, 'Run jobs on these hosts through ssh: comma-separated, `N/host` gives N slots (else -j), `:` is this machine, `user@host` and `host:port` accepted (repeatable)')
            [CompletionResult]::new('--sshlogin', '--sshlogin', [CompletionResultType]::ParameterName, 'Run jobs on these hosts through ssh: comma-separated, `N/host` gives N slots (else -j), `:` is this machine, `user@host` and `host:port` accepted (repeatable)')
            [CompletionResult]::new('--sshlogin-file', '--sshlogin-file', [CompletionResultType]::ParameterName, 'Read hosts for --sshlogin from FILE: one per line, `#` starts a comment (repeatable)')
            [CompletionResult]::new('--slf', '--slf', [CompletionResultType]::ParameterName, 'Read hosts for --sshlogin from FILE: one per line, `#` starts a comment (repeatable)')
            [CompletionResult]::new('--ssh-command', '--ssh-command', [CompletionResultType]::ParameterName, 'The ssh command to reach the hosts with, split into words like a shell would (e.g. ''ssh -F ./config'') [default: ssh]')
            [CompletionResult]::new('--ssh', '--ssh', [CompletionResultType]::ParameterName, 'The ssh command to reach the hosts with, split into words like a shell would (e.g. ''ssh -F ./config'') [default: ssh]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour tags and pmap''s failure notices: auto (when the output is a terminal and NO_COLOR is unset), always or never')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Print a shell completion script or the man page on stdout, and exit; needs no command and reads no input')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Input items end with NUL instead of newline')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Input items end with NUL instead of newline')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'Combine several input sources pairwise instead of as a cartesian product; shorter sources wrap around')
            [CompletionResult]::new('--xapply', '--xapply', [CompletionResultType]::ParameterName, 'Combine several input sources pairwise instead of as a cartesian product; shorter sources wrap around')
            [CompletionResult]::new('--csv', '--csv', [CompletionResultType]::ParameterName, 'Read items as CSV records: quoted fields may hold the delimiter, newlines and `""` quotes; the fields are the columns {1}, {2}, ... (the delimiter is --colsep''s one character, else `,`)')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'As many items per job as fit on the command line, the word around {} repeated for each (`rm -X` style: `-X mv -t dir {}`, `-X echo pre{}post`)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'As many items per job as fit on the command line, all in place of {}')
            [CompletionResult]::new('--xargs', '--xargs', [CompletionResultType]::ParameterName, 'As many items per job as fit on the command line, all in place of {}')
            [CompletionResult]::new('--shuf', '--shuf', [CompletionResultType]::ParameterName, 'Read every job first, then run them in a random order (numbered in that order)')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Skip items that are empty or only white space (xargs'' -r)')
            [CompletionResult]::new('--no-run-if-empty', '--no-run-if-empty', [CompletionResultType]::ParameterName, 'Skip items that are empty or only white space (xargs'' -r)')
            [CompletionResult]::new('--pipe', '--pipe', [CompletionResultType]::ParameterName, 'Cut standard input (or the one -a FILE) into blocks of whole records and give each job one block on its stdin, instead of running a job per item')
            [CompletionResult]::new('--spreadstdin', '--spreadstdin', [CompletionResultType]::ParameterName, 'Cut standard input (or the one -a FILE) into blocks of whole records and give each job one block on its stdin, instead of running a job per item')
            [CompletionResult]::new('--pipepart', '--pipepart', [CompletionResultType]::ParameterName, 'Like --pipe, for the file of -a FILE: pmap finds the cuts by seeking, and each job''s part goes from the file to the job without passing through pmap''s memory')
            [CompletionResult]::new('--pipe-part', '--pipe-part', [CompletionResultType]::ParameterName, 'Like --pipe, for the file of -a FILE: pmap finds the cuts by seeking, and each job''s part goes from the file to the job without passing through pmap''s memory')
            [CompletionResult]::new('--regexp', '--regexp', [CompletionResultType]::ParameterName, 'With --pipe: --recend and --recstart are regular expressions')
            [CompletionResult]::new('--rrs', '--rrs', [CompletionResultType]::ParameterName, 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block')
            [CompletionResult]::new('--remove-rec-sep', '--remove-rec-sep', [CompletionResultType]::ParameterName, 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block')
            [CompletionResult]::new('--removerecsep', '--removerecsep', [CompletionResultType]::ParameterName, 'With --pipe: remove the --recend and --recstart text of every record before the job gets its block')
            [CompletionResult]::new('--round-robin', '--round-robin', [CompletionResultType]::ParameterName, 'With --pipe: start exactly -j jobs and give each block to whichever is ready, instead of a job per block')
            [CompletionResult]::new('--round', '--round', [CompletionResultType]::ParameterName, 'With --pipe: start exactly -j jobs and give each block to whichever is ready, instead of a job per block')
            [CompletionResult]::new('--cat', '--cat', [CompletionResultType]::ParameterName, 'With --pipe: give each job its block in a temporary file named by {} instead of on stdin (implies --pipe)')
            [CompletionResult]::new('--fifo', '--fifo', [CompletionResultType]::ParameterName, 'With --pipe: give each job its block through a named pipe named by {} (implies --pipe)')
            [CompletionResult]::new('--plus', '--plus', [CompletionResultType]::ParameterName, 'More replacement strings: {..} {...} {/..} {/...} (two or three extensions off), {+/} {+.} {+..} {+...} (the parts those take off), {##} (the number of jobs), {0#} {0%} (zero-padded {#} {%}), and bash-like {:-TEXT} {:N} {:N:M} {#RE} {##RE} {%RE} {%%RE} {/RE/TEXT} {^RE} {^^RE} {,RE} {,,RE}')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Never run the command through a shell: run its words as they are, even a lone word with shell syntax in it (GNU parallel''s -q)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'Never run the command through a shell: run its words as they are, even a lone word with shell syntax in it (GNU parallel''s -q)')
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'Always run the command through the shell ($PMAP_SHELL or /bin/sh)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print each command as it would run, in input order, and run nothing')
            [CompletionResult]::new('--dr', '--dr', [CompletionResultType]::ParameterName, 'Print each command as it would run, in input order, and run nothing')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Print output in input order, whatever order the jobs finish in (not with -u, whose output passes through as it comes)')
            [CompletionResult]::new('--keep-order', '--keep-order', [CompletionResultType]::ParameterName, 'Print output in input order, whatever order the jobs finish in (not with -u, whose output passes through as it comes)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Print each job''s output whole when it finishes: stdout, then stderr (the default)')
            [CompletionResult]::new('--line-buffer', '--line-buffer', [CompletionResultType]::ParameterName, 'Print output lines as soon as they are complete; a line never mixes with another''s')
            [CompletionResult]::new('--lb', '--lb', [CompletionResultType]::ParameterName, 'Print output lines as soon as they are complete; a line never mixes with another''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Pass output through as it arrives (fastest; chunks of different jobs may mix)')
            [CompletionResult]::new('--ungroup', '--ungroup', [CompletionResultType]::ParameterName, 'Pass output through as it arrives (fastest; chunks of different jobs may mix)')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Start every output line with the job''s items and a TAB')
            [CompletionResult]::new('--merge-stderr', '--merge-stderr', [CompletionResultType]::ParameterName, 'Send each job''s stderr lines to stdout, joined with its stdout lines in arrival order')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object per finished job instead of its raw output')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Skip jobs already in the --joblog file; append to it')
            [CompletionResult]::new('--resume-failed', '--resume-failed', [CompletionResultType]::ParameterName, 'Re-run jobs the --joblog file records as failed, skip its successes; append to it')
            [CompletionResult]::new('--bar', '--bar', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr (when it is a terminal): done/total, failures, rate, ETA; the total shows from the start for ::: lists and files (input from a pipe: see --total-jobs)')
            [CompletionResult]::new('--eta', '--eta', [CompletionResultType]::ParameterName, 'Show the estimated time left on stderr (when it is a terminal)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show GNU parallel''s progress line on stderr (when it is a terminal): jobs running, jobs done, and the average seconds per job')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print each command on stdout, just before its output (GNU parallel''s -v)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print each command on stdout, just before its output (GNU parallel''s -v)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Print each command on stderr as it starts (GNU parallel''s and xargs'' -t)')
            [CompletionResult]::new('--no-ssh-sharing', '--no-ssh-sharing', [CompletionResultType]::ParameterName, 'Open a new ssh connection for every job instead of sharing one per host (slower; for servers that refuse connection sharing)')
            [CompletionResult]::new('--will-cite', '--will-cite', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel''s sake; pmap asks for no citation')
            [CompletionResult]::new('--citation', '--citation', [CompletionResultType]::ParameterName, 'Accepted for GNU parallel''s sake; pmap asks for no citation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
