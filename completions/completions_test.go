package completions

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestScriptsAreCurrent regenerates every script in-process and compares
// it with the committed file.
func TestScriptsAreCurrent(t *testing.T) {
	for shell, file := range Files {
		t.Run(shell, func(t *testing.T) {
			var want bytes.Buffer
			if err := Generate(Root(), shell, &want); err != nil {
				t.Fatalf("generate: %v", err)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("read %s: %v (run go generate ./completions)", file, err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%s is stale: run go generate ./completions", file)
			}
		})
	}
}

// TestGenerateMatchesCompletionCommand checks the scripts are what the
// binary's own `completion SHELL` prints.
func TestGenerateMatchesCompletionCommand(t *testing.T) {
	for shell := range Files {
		var viaCmd bytes.Buffer
		root := Root()
		root.SetOut(&viaCmd)
		root.SetArgs([]string{"completion", shell})
		if err := root.Execute(); err != nil {
			t.Fatalf("completion %s: %v", shell, err)
		}
		var direct bytes.Buffer
		if err := Generate(Root(), shell, &direct); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(viaCmd.Bytes(), direct.Bytes()) {
			t.Errorf("completion %s differs from Generate", shell)
		}
	}
}

func TestBashScriptLoads(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	out, err := exec.Command(bash, "-c", "source ./coworkctl.bash && complete -p coworkctl").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("coworkctl")) {
		t.Fatalf("bash could not load the script: %v\n%s", err, out)
	}
}

func TestUnknownShell(t *testing.T) {
	if err := Generate(Root(), "tcsh", &bytes.Buffer{}); err == nil {
		t.Fatal("Generate(tcsh) succeeded")
	}
}
