package redfish

import (
	"net/http"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// Roles are the three predefined DMTF roles; they cannot be modified (only GET is
// routed, so PATCH, PUT, POST and DELETE get 405 with Allow).
func (s *Service) registerRoleRoutes() {
	s.route("GET /redfish/v1/AccountService/Roles", privLogin, s.getRoles)
	s.route("GET /redfish/v1/AccountService/Roles/{id}", privLogin, s.getRole)
}

func (s *Service) getRoles(*request) (any, error) {
	var uris []string
	for _, role := range account.Roles() {
		uris = append(uris, rolesURI+"/"+string(role))
	}
	return newCollection(rolesURI, "RoleCollection", "Roles Collection", uris), nil
}

type roleBody struct {
	ODataID            string   `json:"@odata.id"`
	ODataType          string   `json:"@odata.type"`
	ID                 string   `json:"Id"`
	Name               string   `json:"Name"`
	Description        string   `json:"Description"`
	RoleID             string   `json:"RoleId"`
	IsPredefined       bool     `json:"IsPredefined"`
	Restricted         bool     `json:"Restricted"`
	AssignedPrivileges []string `json:"AssignedPrivileges"`
	OemPrivileges      []string `json:"OemPrivileges"`
}

func (s *Service) getRole(r *request) (any, error) {
	id := r.PathValue("id")
	role := account.Role(id)
	if !role.Valid() {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("Role", id))
	}
	privs := []string{}
	for _, p := range role.Privileges() {
		privs = append(privs, string(p))
	}
	return roleBody{
		ODataID:            rolesURI + "/" + id,
		ODataType:          odataType("Role"),
		ID:                 id,
		Name:               id + " Role",
		Description:        id + " User Role",
		RoleID:             id,
		IsPredefined:       true,
		AssignedPrivileges: privs,
		OemPrivileges:      []string{},
	}, nil
}
