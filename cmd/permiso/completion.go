package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// completeCommand is the hidden command the completion scripts call:
// `permiso __complete WORD... CURRENT` prints the candidates for CURRENT,
// one a line. The scripts stay small and the knowledge stays here, read
// from the commands' own help, so completion cannot drift from the flags.
const completeCommand = "__complete"

// extraWords are positional words that are not subcommands of a group.
var extraWords = map[string][]string{
	"token":      {"inspect", "revoke"},
	"completion": {"bash", "zsh", "fish"},
}

func runCompletion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso completion", "bash|zsh|fish",
		"Prints a completion script for the shell. Load it with:\n"+
			"  bash:  source <(permiso completion bash)        (or save it in /etc/bash_completion.d/permiso)\n"+
			"  zsh:   source <(permiso completion zsh)         (after compinit; or save it as _permiso in your $fpath)\n"+
			"  fish:  permiso completion fish | source         (or save it in ~/.config/fish/completions/permiso.fish)", stderr)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	script, ok := completionScripts[pos[0]]
	if !ok {
		return fmt.Errorf("unknown shell %q: want bash, zsh or fish", pos[0])
	}
	_, err = io.WriteString(stdout, script)
	return err
}

var completionScripts = map[string]string{
	"bash": `# bash completion for permiso: source <(permiso completion bash)
_permiso() {
    local IFS=$'\n'
    COMPREPLY=($("${COMP_WORDS[0]}" ` + completeCommand + ` "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _permiso permiso
`,
	"zsh": `#compdef permiso
# zsh completion for permiso: source <(permiso completion zsh), after compinit
_permiso() {
    local -a candidates
    candidates=("${(@f)$(${words[1]} ` + completeCommand + ` "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ -n "${candidates[1]}" ]]; then
        compadd -- "${candidates[@]}"
    else
        _files
    fi
}
if [[ "${funcstack[1]}" == "_permiso" ]]; then
    _permiso "$@"
else
    compdef _permiso permiso
fi
`,
	"fish": `# fish completion for permiso: permiso completion fish | source
complete -c permiso -f -a '(permiso ` + completeCommand + ` (commandline -opc)[2..-1] (commandline -ct))'
`,
}

// runComplete prints the completions of the last word of args.
func runComplete(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) == 0 {
		args = []string{""}
	}
	for _, c := range complete(ctx, args[:len(args)-1], args[len(args)-1], stdin) {
		fmt.Fprintln(stdout, c)
	}
	return 0
}

// complete returns the candidates for cur after the words before it.
func complete(ctx context.Context, before []string, cur string, stdin io.Reader) []string {
	var words []string
	if len(before) == 0 {
		for _, c := range commands(stdin) {
			words = append(words, c.name)
		}
		words = append(words, "--help", "--version")
		return withPrefix(words, cur)
	}
	cmd := before[0]
	var run func(context.Context, []string, io.Writer, io.Writer) error
	for _, c := range commands(stdin) {
		if c.name == cmd {
			run = c.run
		}
	}
	if run == nil {
		return nil
	}
	// The positional words so far (flags and their values skipped roughly:
	// a word after a flag without "=" is taken as its value).
	var pos []string
	for i := 1; i < len(before); i++ {
		w := before[i]
		if strings.HasPrefix(w, "-") {
			if !strings.Contains(w, "=") && i+1 < len(before) && takesValue(ctx, run, pos, w) {
				i++
			}
			continue
		}
		pos = append(pos, w)
	}
	help := helpText(ctx, run, pos)
	subs := section(help, "Subcommands:")
	if strings.HasPrefix(cur, "-") {
		return withPrefix(flagNames(help), cur)
	}
	if len(before) > 1 && strings.HasPrefix(before[len(before)-1], "-") && !strings.Contains(before[len(before)-1], "=") &&
		takesValue(ctx, run, pos, before[len(before)-1]) {
		return nil // a flag's value: the shell completes file names
	}
	if len(pos) == 0 {
		return withPrefix(append(subs, extraWords[cmd]...), cur)
	}
	return nil
}

// helpText runs the command (and subcommand) with --help and returns what
// it prints: usage, subcommands and flags. No command acts before it has
// parsed its flags, so this has no effect.
func helpText(ctx context.Context, run func(context.Context, []string, io.Writer, io.Writer) error, pos []string) string {
	var out strings.Builder
	args := append(slices.Clone(pos), "--help")
	run(ctx, args, io.Discard, &out)
	return out.String()
}

// flagNames reads "  -name type" lines of flag.PrintDefaults output.
func flagNames(help string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ := strings.Cut(rest, " ")
			name, _, _ = strings.Cut(name, "\t")
			out = append(out, "--"+name)
		}
	}
	return out
}

// takesValue reports whether flag (as typed) is a non-boolean flag of the
// command: PrintDefaults writes a type name after those.
func takesValue(ctx context.Context, run func(context.Context, []string, io.Writer, io.Writer) error, pos []string, flag string) bool {
	name := strings.TrimLeft(flag, "-")
	sc := bufio.NewScanner(strings.NewReader(helpText(ctx, run, pos)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "  -"+name); ok {
			return strings.HasPrefix(rest, " ")
		}
	}
	return false
}

// section returns the first words of the indented lines under title.
func section(help, title string) []string {
	_, after, ok := strings.Cut(help, title+"\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

func withPrefix(words []string, prefix string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
