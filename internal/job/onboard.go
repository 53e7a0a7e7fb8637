package job

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/rs/zerolog"
)

// Onboard makes one onboarding call through the pool (rate limit and
// retries) and prints the API's answer as JSON, and only that, to out.
func Onboard(ctx context.Context, s *Session, log zerolog.Logger, out io.Writer, op string, call func(context.Context, *client.Client) (any, error)) error {
	var answer any
	res, fatal := s.Caller.Do(ctx, op, func(ctx context.Context) error {
		var err error
		answer, err = call(ctx, s.API)
		return err
	})
	if fatal != nil {
		return fmt.Errorf("%s: %w", op, fatal)
	}
	if res.Err != nil {
		return fmt.Errorf("%s: %w", op, res.Err)
	}
	if res.Interrupted {
		return fmt.Errorf("%s: %w", op, context.Cause(ctx))
	}
	log.Info().Str("op", op).Int("attempts", res.Attempts).Int64("duration_ms", res.Duration.Milliseconds()).Msg("done")
	if answer == nil {
		return nil
	}
	return printJSON(out, answer)
}

// printJSON writes v as indented JSON, the only thing a management command
// prints on stdout.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "Grand Hotel & Spa", not "\u0026"
	if err := enc.Encode(v); err != nil {
		return &OutputError{What: "answer", Path: "-", Err: err}
	}
	return nil
}

// CheckProvider refuses a serviceProviderId that is not one; name is what
// the caller calls it.
func CheckProvider(name, id string) error {
	if msg := csvmodel.CheckProvider(id); msg != "" {
		return usage("%s: %s", name, msg)
	}
	return nil
}

// CheckText refuses a value that is not 1 to 255 characters.
func CheckText(name, v string) error {
	if n := utf8.RuneCountInString(v); n < 1 || n > 255 {
		return usage("%s must be 1 to 255 characters, got %d", name, n)
	}
	return nil
}

// CheckSkill refuses what is not a skill id.
func CheckSkill(name, id string) error {
	if err := CheckText(name, id); err != nil {
		return err
	}
	if !strings.HasPrefix(id, "amzn1.") {
		return usage("%s %q is not a skill id (amzn1.ask.skill.…)", name, id)
	}
	return nil
}
