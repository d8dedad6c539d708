package main

import (
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// Issue 12 (deployment): deploy/Dockerfile builds the command in one stage
// as a static binary and runs it alone, as a non-root user, in another; and
// the step that downloads the modules before the sources are copied has the
// go.mod of every directory the command's go.mod replaces a module with
// (without them `go mod download` fails). Docker does not run on the
// machine the tests run on, so this reads the file; the README says so.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)); n != 2 {
		t.Errorf("%d FROM lines, want 2 (a build stage and the run stage)", n)
	}
	for _, want := range []string{"CGO_ENABLED=0", "COPY --from=build", "USER nonroot"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile has no %q", want)
		}
	}
	download := strings.Index(df, "go mod download")
	if download < 0 {
		t.Fatal("the Dockerfile has no go mod download step")
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	replaces := regexp.MustCompile(`(?m)^replace \S+ => (\.\S*)$`).FindAllStringSubmatch(string(gomod), -1)
	if len(replaces) == 0 {
		t.Fatal("cmd/wsserver/go.mod replaces nothing: the test reads it wrong")
	}
	for _, m := range replaces {
		dir := path.Clean(path.Join("cmd/wsserver", m[1]))
		want := "COPY " + strings.TrimPrefix(path.Join(dir, "go.mod"), "./")
		if dir == "." {
			want = "COPY go.mod"
		}
		if i := strings.Index(df, want); i < 0 || i > download {
			t.Errorf("the Dockerfile does not copy %s/go.mod before go mod download (want %q)", dir, want)
		}
	}
	if i := strings.Index(df, "COPY cmd/wsserver/go.mod"); i < 0 || i > download {
		t.Error("the Dockerfile does not copy cmd/wsserver/go.mod before go mod download")
	}
}
