package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one mail.
type Message struct {
	To, Subject, Body string
}

// Mailer sends mail.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// LogMailer writes each message, link included, to the log instead of
// sending it: for development, when no SMTP server is configured.
type LogMailer struct {
	Logger *slog.Logger
}

// Send logs m at Info level.
func (l LogMailer) Send(ctx context.Context, m Message) error {
	l.Logger.InfoContext(ctx, "mail not sent (no SMTP server configured); message follows",
		"to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// SMTPMailer sends mail through an SMTP server with net/smtp, which uses
// STARTTLS when the server offers it.
type SMTPMailer struct {
	Addr string    // host:port
	Auth smtp.Auth // nil: no authentication
	From string
}

// NewSMTPMailer parses an smtp-url, smtp://[user:password@]host[:port]
// (port 25 by default; 587 is usual with authentication).
func NewSMTPMailer(rawURL, from string) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" {
		return nil, errors.New("smtp url must look like smtp://user:password@host:587")
	}
	if from == "" || strings.ContainsAny(from, "\r\n") {
		return nil, errors.New("a mail-from address is required with an SMTP server")
	}
	port := u.Port()
	if port == "" {
		port = "25"
	}
	m := &SMTPMailer{Addr: net.JoinHostPort(u.Hostname(), port), From: from}
	if u.User != nil {
		pw, _ := u.User.Password()
		m.Auth = smtp.PlainAuth("", u.User.Username(), pw, u.Hostname())
	}
	return m, nil
}

// Send delivers m. net/smtp takes no context; the caller bounds the time
// by running it in the background.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	if strings.ContainsAny(m.To+m.Subject, "\r\n") {
		return errors.New("mail header contains a line break")
	}
	msg := "From: " + s.From + "\r\nTo: " + m.To + "\r\nSubject: " + m.Subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(m.Body, "\n", "\r\n")
	if err := smtp.SendMail(s.Addr, s.Auth, s.From, []string{m.To}, []byte(msg)); err != nil {
		return fmt.Errorf("send mail via %s: %w", s.Addr, err)
	}
	return nil
}

// sendAsync sends m in the background, at most a few at a time; when too
// many are in flight the message is dropped and logged, so a flood of
// requests cannot pile up connections.
func (s *Service) sendAsync(ctx context.Context, m Message) {
	select {
	case s.mails <- struct{}{}:
	default:
		s.cfg.Logger.WarnContext(ctx, "mail dropped: too many in flight", "subject", m.Subject)
		return
	}
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer func() { <-s.mails }()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := s.cfg.Mailer.Send(ctx, m); err != nil {
			s.cfg.Logger.WarnContext(ctx, "mail not sent", "subject", m.Subject, "err", err)
		}
	}()
}
