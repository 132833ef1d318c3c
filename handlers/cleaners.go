package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// The cleaners' accounts (#22): an ADMIN makes a CLEANER's account in a
// crew, which gets an emailed invitation; its link (/auth/invite) sets the
// first password, verifies the address and signs the cleaner in.

// inviteTTL: how long an invitation's link works.
const inviteTTL = 7 * 24 * time.Hour

var (
	errNotCleaner      = validation.NewError("not_cleaner", "not a cleaner's account")
	errInviteAccepted  = &codedError{status: fiber.StatusConflict, code: "invite_accepted"}
	errUnknownLanguage = validation.NewError("validation_language", "uz, ru or en")
)

// cleanerInput is the body of POST /admin/cleaners.
type cleanerInput struct {
	Email  string `json:"email" form:"email"`
	Name   string `json:"name" form:"name"`
	CrewID string `json:"crewId" form:"crewId"`
	Lang   string `json:"lang" form:"lang"` // the invitation's language; none: Uzbek

	crews map[primitive.ObjectID]bool
}

func (in *cleanerInput) normalize() {
	in.Email = auth.NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	in.CrewID = strings.TrimSpace(in.CrewID)
	in.Lang = strings.TrimSpace(in.Lang)
}

func (in cleanerInput) Validate() error {
	errs := validation.Errors{
		"email": validation.Validate(in.Email, emailRules(true)...),
		"name":  validation.Validate(in.Name, validation.Required, validation.RuneLength(1, 60)),
	}
	if in.CrewID == "" {
		errs["crewId"] = validation.ErrRequired
	} else if id, err := primitive.ObjectIDFromHex(in.CrewID); err != nil {
		errs["crewId"] = errObjectID
	} else if !in.crews[id] {
		errs["crewId"] = errUnknownCrew
	}
	if in.Lang != "" && !views.Supported(in.Lang) {
		errs["lang"] = errUnknownLanguage
	}
	return errs.Filter()
}

func (in cleanerInput) values() map[string]string {
	return map[string]string{"email": in.Email, "name": in.Name, "crewId": in.CrewID, "lang": in.Lang}
}

// cleanerView is a cleaner as the admin sees it: the account, its crews,
// and whether it accepted its invitation (set its password).
type cleanerView = views.CleanerView

// cleaners are the CLEANER accounts with their crews.
func (h *Handler) cleaners(c *fiber.Ctx) ([]cleanerView, []store.Crew, error) {
	users, err := h.users.Cleaners(ctx(c))
	if err != nil {
		return nil, nil, err
	}
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return nil, nil, err
	}
	out := make([]cleanerView, 0, len(users))
	for _, u := range users {
		v := cleanerView{User: u, Accepted: u.IsVerified, Crews: []views.CrewRef{}}
		for i := range crews {
			if crews[i].HasMember(u.ID) {
				v.Crews = append(v.Crews, views.CrewRef{ID: crews[i].ID.Hex(), Name: crews[i].Name})
			}
		}
		out = append(out, v)
	}
	return out, crews, nil
}

// cleanersPage is the list of cleaners and the form that invites one.
func (h *Handler) cleanersPage(c *fiber.Ctx, f views.FormState) (page, []cleanerView, error) {
	list, crews, err := h.cleaners(c)
	if err != nil {
		return page{}, nil, err
	}
	return page{title: h.meta(c).T("cleaners.title"), body: views.CleanersPage(list, crews, f)}, list, nil
}

// ListCleaners is GET /admin/cleaners (ADMIN): the cleaners by name with
// their crews and whether they accepted; JSON {"items":[…],"next":""}.
func (h *Handler) ListCleaners(c *fiber.Ctx) error {
	p, cleaners, err := h.cleanersPage(c, views.FormState{})
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, list[cleanerView]{Items: cleaners}, p)
}

// CreateCleaner is POST /admin/cleaners {email, name, crewId, lang}
// (ADMIN): a CLEANER's account, without a password and unverified, in the
// crew, and its invitation emailed. 201 with the account, or back to the
// list with a flash. A taken email is a 409 on the field; nothing is
// written on bad input.
func (h *Handler) CreateCleaner(c *fiber.Ctx) error {
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return err
	}
	in := cleanerInput{crews: map[primitive.ObjectID]bool{}}
	for _, cr := range crews {
		in.crews[cr.ID] = true
	}
	form := func(f views.FormState) page {
		p, _, err := h.cleanersPage(c, f)
		if err != nil {
			return page{title: h.meta(c).T("cleaners.title"), body: views.CleanersPage(nil, crews, f)}
		}
		return p
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	taken, err := h.takenError(c, "", in.Email, primitiveNil)
	if err != nil {
		return err
	}
	if len(taken.Fields) > 0 {
		return h.formError(c, taken, in.values(), form)
	}
	crewID, _ := primitive.ObjectIDFromHex(in.CrewID)
	lang := in.Lang
	if lang == "" {
		lang = views.Languages[0]
	}
	u := &store.User{Username: cleanerUsername(), Name: in.Name, Email: in.Email, Role: store.RoleCleaner, Locale: lang}
	err = h.users.Create(ctx(c), u)
	if errors.Is(err, store.ErrConflict) {
		if taken, terr := h.takenError(c, "", in.Email, primitiveNil); terr != nil {
			return terr
		} else if len(taken.Fields) > 0 { // taken meanwhile
			return h.formError(c, taken, in.values(), form)
		}
	}
	if err != nil {
		return err
	}
	if err := h.schedule.AddMember(ctx(c), crewID, u.ID, u.Name); err != nil {
		// The crew went meanwhile, or is full: the account goes too.
		if derr := h.users.Delete(context.WithoutCancel(ctx(c)), u.ID); derr != nil {
			h.log.Warn("cleaner: undo the account", "error", derr)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return h.formError(c, &ValidationError{Fields: map[string]string{"crewId": h.meta(c).T("err.unknown_crew")}}, in.values(), form)
		}
		return err
	}
	if err := h.sendInvite(ctx(c), u); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.Status(fiber.StatusCreated).JSON(u)
	}
	h.setFlash(c, "success", "flash.cleanerInvited")
	return redirect(c, "/admin/cleaners")
}

// cleanerUsername is a new cleaner's username: unique, never shown to
// customers (a cleaner does not chat; the crew and the name are shown).
func cleanerUsername() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "cleaner." + hex.EncodeToString(b)
}

// sendInvite issues u's invitation link (the one sent before stops
// working) and queues its email, in u's language.
func (h *Handler) sendInvite(ctx context.Context, u *store.User) error {
	link, err := h.issueLink(ctx, u, store.PurposeInvite, u.Email)
	if err != nil {
		return err
	}
	link = h.cfg.BaseURL + link
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	text := loc.Format("email.greeting", map[string]any{"Name": u.Name}) + "\n\n" + loc.T("email.invite.body") + "\n\n" + link +
		"\n\n" + loc.T("email.invite.expiry") + "\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, u.Email, lang, "email.invite.subject", views.InviteEmail(u.Name, link), text)
}

// ResendInvite is POST /admin/cleaners/:id/invite (ADMIN): a new
// invitation for a cleaner who has not accepted yet (the old link stops
// working); 202, or back to the list. One who accepted is a 409.
func (h *Handler) ResendInvite(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	u, err := h.users.Get(ctx(c), id)
	if err != nil {
		return err
	}
	if !u.IsCleaner() {
		return store.ErrNotFound
	}
	if u.IsVerified {
		return errInviteAccepted
	}
	if err := h.sendInvite(ctx(c), u); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "sent"})
	}
	h.setFlash(c, "success", "flash.cleanerInvited")
	return redirect(c, "/admin/cleaners")
}

// inviteAccount is the cleaner an invitation's token names, while the
// link is live (not used, replaced or expired) and the account still a
// cleaner at the address it went to; anything else is ErrNotFound.
func (h *Handler) inviteAccount(ctx context.Context, token string, consume bool) (*store.User, error) {
	userID, hash, ok := auth.SplitCompound(token)
	if !ok {
		return nil, store.ErrNotFound
	}
	look := h.oneTime.Peek
	if consume {
		look = h.oneTime.Consume
	}
	tok, err := look(ctx, store.PurposeInvite, userID, hash, h.now())
	if err != nil {
		return nil, err
	}
	u, err := h.linkAccount(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !u.IsCleaner() {
		return nil, store.ErrNotFound
	}
	return u, nil
}

// InvitePage is GET /auth/invite?token= : the form that sets a cleaner's
// first password, or (410) a page saying the link no longer works.
func (h *Handler) InvitePage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer") // the token is in the URL
	token := c.Query("token")
	u, err := h.inviteAccount(ctx(c), token, false)
	if errors.Is(err, store.ErrNotFound) {
		if wantsJSON(c) {
			return errLinkGone
		}
		return h.render(c, fiber.StatusGone, nil, page{title: h.meta(c).T("inviteGone.title"), body: views.InviteGonePage()})
	}
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, fiber.Map{"email": u.Email, "name": u.Name},
		page{title: h.meta(c).T("invite.title"), body: views.InvitePage(token, u.Name, views.FormState{})})
}

type inviteInput struct {
	Token    string `json:"token" form:"token"`
	Password string `json:"password" form:"password"`
}

func (in inviteInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Token, validation.Required, validation.RuneLength(0, 200)),
		validation.Field(&in.Password, newPasswordRules(true)...))
}

// AcceptInvite is POST /auth/invite?token= {password} (the token in the
// query or the body): the cleaner's password, checked as a sign-up's, is
// set, the address verified, the link used up, and the cleaner signed in
// (200 with the tokens, or on to /my/day). A link used, replaced or
// expired is a 400 and writes nothing.
func (h *Handler) AcceptInvite(c *fiber.Ctx) error {
	var in inviteInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("invite.title"), body: views.InvitePage(in.Token, "", f)}
	}
	in.Token = c.Query("token") // the link's; a body's token, if any, replaces it
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, nil, form)
	}
	invalid := func() error {
		if wantsJSON(c) {
			return errBadToken
		}
		return h.render(c, fiber.StatusBadRequest, nil, page{title: h.meta(c).T("inviteGone.title"), body: views.InviteGonePage()})
	}
	// Checked, and the password estimated and hashed, before the link is
	// used up: a weak password leaves it to a second try.
	u, err := h.inviteAccount(ctx(c), in.Token, false)
	if errors.Is(err, store.ErrNotFound) {
		return invalid()
	} else if err != nil {
		return err
	}
	pw, err := h.hashNewPassword(c, in.Password, auth.PasswordContext(u.Email, u.Name))
	if err != nil {
		return h.formError(c, err, nil, func(f views.FormState) page {
			return page{title: h.meta(c).T("invite.title"), body: views.InvitePage(in.Token, u.Name, f)}
		})
	}
	u, err = h.inviteAccount(ctx(c), in.Token, true)
	if errors.Is(err, store.ErrNotFound) {
		return invalid() // used meanwhile
	} else if err != nil {
		return err
	}
	verified := true
	u, err = h.users.Update(ctx(c), u.ID, store.UserChange{PasswordHash: &pw, IsVerified: &verified, BumpTokenVersion: true})
	if errors.Is(err, store.ErrNotFound) {
		return invalid()
	} else if err != nil {
		return err
	}
	if err := h.oneTime.ForgetLinks(ctx(c), u.ID, u.Email); err != nil {
		return err
	}
	h.auth.forgetUser(u.ID)
	return h.finishLogin(c, u, "/my/day")
}

// cleanerAccounts are the CLEANER accounts by id: a crew's memberIds
// name only these.
func (h *Handler) cleanerAccounts(c *fiber.Ctx) (map[primitive.ObjectID]*store.User, error) {
	users, err := h.users.Cleaners(ctx(c))
	if err != nil {
		return nil, err
	}
	out := make(map[primitive.ObjectID]*store.User, len(users))
	for i := range users {
		out[users[i].ID] = &users[i]
	}
	return out, nil
}
