package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/t2f/t2f/internal/plan"
)

// Shared by t2f demo and t2f recipe: running a plan (internal/plan) with
// t2f commands in process. The steps both build are in plan_steps.go.

// runPlan runs p: a t2f step in process exactly as if typed (output to w
// and ew), an Exec step as a program (output to ew).
func runPlan(ctx context.Context, w, ew io.Writer, p *plan.Plan, force bool) error {
	return p.Run(ctx, ew, func(ctx context.Context, s plan.Step, args []string) error {
		if s.Exec {
			cmd := exec.CommandContext(ctx, args[0], args[1:]...)
			cmd.Stdout, cmd.Stderr = ew, ew
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return cmd.Run()
		}
		return newApp(w, ew).RunContext(ctx, append([]string{"t2f"}, args...))
	}, force)
}

// planAction lists p (--list), or runs it, or only its --step.
func planAction(ctx context.Context, w, ew io.Writer, p *plan.Plan, list bool, step string, force bool) error {
	if list {
		p.List(w)
		return nil
	}
	if step != "" {
		one, err := p.Only(step)
		if err != nil {
			return usageError{fmt.Sprintf("--step %q: %v", step, err)}
		}
		p = one
	}
	return runPlan(ctx, w, ew, p, force)
}
