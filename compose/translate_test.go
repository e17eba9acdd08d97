package compose

import (
	"errors"
	"strings"
	"testing"
)

func TestSchemaProblem_Keys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text        string
		wantKey     string
		wantMessage string
	}{
		{
			text:        "additional properties 'servics' not allowed",
			wantKey:     "servics",
			wantMessage: "unknown key servics;",
		},
		{
			text:        "services.web.deploy additional properties 'replica' not allowed",
			wantKey:     "services.web.deploy.replica",
			wantMessage: "unknown key services.web.deploy.replica;",
		},
		{
			text:        "services.web.imagee false schema",
			wantKey:     "services.web.imagee",
			wantMessage: "unknown key services.web.imagee;",
		},
		{
			text:        "services.web.ports must be a array",
			wantKey:     "services.web.ports",
			wantMessage: "services.web.ports must be a list;",
		},
		{
			text:        "services.web.cpu_count must be a integer",
			wantKey:     "services.web.cpu_count",
			wantMessage: "services.web.cpu_count must be an integer;",
		},
	}
	for _, tc := range cases {
		invalid := schemaProblem(tc.text)
		if invalid.Key != tc.wantKey {
			t.Errorf("schemaProblem(%q).Key = %q, want %q", tc.text, invalid.Key, tc.wantKey)
		}
		if !strings.HasPrefix(invalid.Message, tc.wantMessage) {
			t.Errorf("schemaProblem(%q).Message = %q, want prefix %q",
				tc.text, invalid.Message, tc.wantMessage)
		}
	}
}

func TestContainerNameError_ArgumentOrder(t *testing.T) {
	t.Parallel()
	texts := []string{
		// compose-go v2.16.2 writes the attribute where the service belongs.
		"services.deploy.replicas: can't set container_name and api " +
			"as container name must be unique: invalid compose project",
		"services.api: can't set container_name and deploy.replicas " +
			"as container name must be unique: invalid compose project",
	}
	for _, text := range texts {
		invalid := containerNameError(errors.New(text))
		if invalid == nil {
			t.Fatalf("containerNameError(%q) = nil", text)
		}
		if invalid.Key != "services.api.container_name" {
			t.Errorf("Key = %q, want services.api.container_name", invalid.Key)
		}
		if !strings.Contains(invalid.Message, "with deploy.replicas above 1") {
			t.Errorf("Message = %q, want the attribute deploy.replicas", invalid.Message)
		}
	}
	if invalid := containerNameError(errors.New("some other error")); invalid != nil {
		t.Errorf("containerNameError matched an unrelated error: %v", invalid)
	}
}

func TestInvalidError_Error(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  InvalidError
		want string
	}{
		{InvalidError{Message: "no compose file found"}, "no compose file found"},
		{InvalidError{File: "/p/compose.yaml", Message: "m"}, "/p/compose.yaml: m"},
		{InvalidError{File: "/p/compose.yaml", Line: 4, Message: "m"}, "/p/compose.yaml:4: m"},
		{
			InvalidError{File: "/p/compose.yaml", Line: 4, Column: 2, Message: "m"},
			"/p/compose.yaml:4:2: m",
		},
		{InvalidError{File: "/p/compose.yaml", Column: 2, Message: "m"}, "/p/compose.yaml: m"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestInvalidError_Unwrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	var err error = &InvalidError{Message: "m", Err: cause}

	if !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) = false")
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is(err, cause) = false")
	}
}
