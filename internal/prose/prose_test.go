package prose

import "testing"

func TestJoinWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		words []string
		want  string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "b"}, "a or b"},
		{[]string{"a", "b", "c"}, "a, b or c"},
	}
	for _, tt := range tests {
		if got := JoinWords(tt.words, "or"); got != tt.want {
			t.Errorf("JoinWords(%q, or) = %q, want %q", tt.words, got, tt.want)
		}
	}
}
