package handlers

import (
	"errors"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"

	"tozalash/store"
	"tozalash/views"
)

// ListUsers is the admin's list of accounts: GET /users?q=&before=&limit=.
func (h *Handler) ListUsers(c *fiber.Ctx) error {
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	q := truncateString(c.Query("q"), 100)
	items, next, err := h.users.List(ctx(c), store.UserFilter{Q: q, Before: p.before, Limit: p.limit})
	if err != nil {
		return err
	}
	cursor := cursorOf(next)
	return h.render(c, fiber.StatusOK, list[store.User]{Items: items, Next: cursor}, page{
		title:    h.meta(c).T("users.title"),
		body:     views.UsersPage(items, cursor, q),
		fragment: views.UsersRows(items, cursor, q),
	})
}

// GetUser is one account for an admin.
func (h *Handler) GetUser(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	chat, err := h.supportChatOf(c, u)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, u, page{title: u.Username, body: views.UserPage(u, chat, views.FormState{})})
}

// supportChatOf is the id of u's support conversation, or "" when they
// never started one: the user page links to it.
func (h *Handler) supportChatOf(c *fiber.Ctx, u *store.User) (string, error) {
	id := store.SupportConversationID(u.ID)
	if _, err := h.chat.Get(ctx(c), id); errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return id, nil
}

func (h *Handler) userParam(c *fiber.Ctx) (*store.User, error) {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return nil, err
	}
	return h.users.Get(ctx(c), id)
}

// userAdminInput is the body of PATCH /users/:id.
type userAdminInput struct {
	Role       *string `json:"role" form:"role"`
	IsVerified *bool   `json:"isVerified" form:"isVerified"`
}

func (in userAdminInput) Validate() error {
	return validation.ValidateStruct(&in, validation.Field(&in.Role, validation.In(store.RoleAdmin, store.RoleUser)))
}

// errSelf refuses an admin changing their own role or deleting themselves
// through /users: the last admin could lock everyone out.
var errSelf = &codedError{status: fiber.StatusConflict, code: "self"}

// UpdateUser changes an account's role or verification.
func (h *Handler) UpdateUser(c *fiber.Ctx) error {
	target, err := h.userParam(c)
	if err != nil {
		return err
	}
	var in userAdminInput
	form := func(f views.FormState) page {
		chat, _ := h.supportChatOf(c, target)
		return page{title: target.Username, body: views.UserPage(target, chat, f), fragment: views.UserAdminForm(target, f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, nil, form)
	}
	if target.ID == currentUser(c).ID && in.Role != nil && *in.Role != target.Role {
		return errSelf
	}
	updated, err := h.users.Update(ctx(c), target.ID, store.UserChange{Role: in.Role, IsVerified: in.IsVerified})
	h.auth.forgetUser(target.ID)
	h.hub.Reconnect(target.ID.Hex()) // their sockets come back with the new rights
	if err != nil {
		return err
	}
	f := views.FormState{Notice: h.meta(c).T("profile.saved")}
	chat, err := h.supportChatOf(c, updated)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, updated, page{title: updated.Username, body: views.UserPage(updated, chat, f), fragment: views.UserAdminForm(updated, f)})
}

// DeleteUser removes an account and ends its sessions.
func (h *Handler) DeleteUser(c *fiber.Ctx) error {
	target, err := h.userParam(c)
	if err != nil {
		return err
	}
	if target.ID == currentUser(c).ID {
		return errSelf
	}
	if err := h.deleteUser(c, target.ID); err != nil {
		return err
	}
	return h.done(c, "/users", "flash.userDeleted")
}

// ClearTwoFactor is DELETE /users/:id/2fa (ADMIN): the way back for a user
// who lost both the authenticator and the recovery codes, once an admin
// has made sure who is asking. It turns 2FA off (the secret, the recovery
// codes and the flag go), ends every session of the user, logs who cleared
// whose, and emails the user. 404 for an unknown user; 409 two_factor_off
// when 2FA is not on (nothing to clear: nothing written, nobody emailed);
// 409 self for the admin's own, which goes through POST /auth/2fa/disable
// with the password and a code like anyone's.
func (h *Handler) ClearTwoFactor(c *fiber.Ctx) error {
	target, err := h.userParam(c)
	if err != nil {
		return err
	}
	admin := currentUser(c)
	if target.ID == admin.ID {
		return errSelf
	}
	if !target.TwoFactor.Enabled {
		return errTwoFactorOff
	}
	if err := h.users.DisableTOTP(ctx(c), target.ID); err != nil {
		return err
	}
	if err := h.sessions.RevokeAll(ctx(c), target.ID, time.Now().UTC()); err != nil {
		return err
	}
	h.auth.forgetUser(target.ID)
	h.hub.CloseUser(target.ID.Hex())
	h.log.Info("two-factor login cleared by an admin", "admin", admin.ID.Hex(), "user", target.ID.Hex(), "requestId", requestID(c))
	h.notifySecurity(ctx(c), target, "tfaCleared")
	updated, err := h.users.Get(ctx(c), target.ID)
	if err != nil {
		return err
	}
	f := views.FormState{Notice: h.meta(c).T("users.tfaCleared")}
	chat, err := h.supportChatOf(c, updated)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, updated, page{title: updated.Username, body: views.UserPage(updated, chat, views.FormState{}), fragment: views.UserTwoFactor(updated, f)})
}
