package cli

import (
	"github.com/urfave/cli/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
)

// traced wraps a command's action in a span named after the command.
func traced(name string, action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		ctx, span := otel.Tracer("github.com/clusterctl/clusterctl/internal/cli").Start(c.Context, name)
		defer span.End()
		c.Context = ctx
		err := action(c)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}
