package pm2import

import (
	"maps"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

func TestFormatEnvFile_RoundTrip(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"PLAIN":      "production",
		"EMPTY":      "",
		"DOLLAR":     "$HOME and ${USER:-root} and $$",
		"QUOTES":     `it's "quoted"`,
		"BACKSLASH":  `C:\path\n\`,
		"NEWLINE":    "line one\nline two\r\n\tindented",
		"HASH":       "value # not a comment",
		"SPACES":     "  padded  ",
		"UNICODE":    "grüße ✓",
		"JSON":       `{"a":[1,2]}`,
		"dotted.key": "x",
	}
	vars := make([]envVar, 0, len(want))
	for key, value := range want {
		vars = append(vars, envVar{key, value})
	}

	got, err := dotenv.UnmarshalBytesWithLookup([]byte(formatEnvFile(vars)), func(string) (string, bool) {
		return "from the environment", true
	})
	if err != nil {
		t.Fatalf("dotenv: %v\n%s", err, formatEnvFile(vars))
	}
	if !maps.Equal(got, want) {
		t.Errorf("round trip = %q, want %q\nfile:\n%s", got, want, formatEnvFile(vars))
	}
}

func TestPortOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		blocks      map[string][]envVar
		port        int
		wantComment bool
	}{
		{"none", map[string][]envVar{"env": {{"HOST", "0.0.0.0"}}}, 0, false},
		{"env", map[string][]envVar{"env": {{"PORT", "8080"}}, "env_production": {{"PORT", "8080"}}}, 8080, false},
		{"env wins", map[string][]envVar{"env": {{"PORT", "8080"}}, "env_a": {{"PORT", "9000"}}}, 8080, true},
		{"variant only", map[string][]envVar{"env": nil, "env_b": {{"PORT", "9001"}}, "env_a": {{"PORT", "9000"}}}, 9000, true},
		{"not a port", map[string][]envVar{"env": {{"PORT", "http"}}}, 0, false},
		{"out of range", map[string][]envVar{"env": {{"PORT", "70000"}}}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port, comment := portOf(tc.blocks)
			if port != tc.port {
				t.Errorf("port = %d, want %d", port, tc.port)
			}
			if (comment != "") != tc.wantComment {
				t.Errorf("comment = %q, want one: %v", comment, tc.wantComment)
			}
		})
	}
}
